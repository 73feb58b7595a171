import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResponseStore, conversationBefore, ownerOf, replayableOutput, resolveItemReferences, type StoredResponse } from '../../../src/responses/index.js';
import { Store } from '../../../src/store/index.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);
const ALICE = ownerOf({ kind: 'token', id: 'tok_alice' });
const BOB = ownerOf({ kind: 'virtual_key', id: 'team-b' });
const LIMITS = { maxChain: 10, maxBytes: 1_000_000 };

let dir: string;
let store: Store;
let responses: ResponseStore;

const turn = (id: string, previous: string | null, text: string, createdAt = NOW): StoredResponse => ({
  id, owner: ALICE, createdAt, previous,
  input: [{ id: `msg_${id}_in0`, type: 'message', role: 'user', content: `question ${text}` }],
  response: { id, object: 'response', output: [{ id: `msg_${id}_0`, type: 'message', role: 'assistant', content: [{ type: 'output_text', text: `answer ${text}`, annotations: [] }] }] },
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-responses-'));
  store = await Store.open(dir);
  responses = await ResponseStore.open(store, { retentionDays: 30 });
});

afterEach(async () => {
  await responses.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ResponseStore', () => {
  it('reads a response only for the principal that stored it', async () => {
    await responses.put(turn('resp_1', null, 'one'));
    expect((await responses.get('resp_1', ALICE, NOW))?.response.id).toBe('resp_1');
    expect(await responses.get('resp_1', BOB, NOW)).toBeUndefined();
    expect(await responses.get('resp_1', ownerOf({ kind: 'admin', id: 'admin' }), NOW)).toBeUndefined();
    expect(await responses.delete('resp_1', BOB)).toBe(false);
    expect(await responses.delete('resp_1', ALICE)).toBe(true);
    expect(await responses.get('resp_1', ALICE, NOW)).toBeUndefined();
  });

  it('refuses an id another principal holds (an upstream or peer answering with a known id replaces nothing)', async () => {
    await responses.put(turn('resp_1', null, 'one'));
    await expect(responses.put({ ...turn('resp_1', null, 'stolen'), owner: BOB })).rejects.toThrow(/another principal/);
    expect((await responses.get('resp_1', ALICE, NOW))?.input[0]).toMatchObject({ content: 'question one' });
    expect(await responses.get('resp_1', BOB, NOW)).toBeUndefined();
    // The owner itself may store the id again (a retried turn).
    await responses.put(turn('resp_1', null, 'again'));
    expect((await responses.get('resp_1', ALICE, NOW))?.input[0]).toMatchObject({ content: 'question again' });
  });

  it('hides expired responses at once and sweeps them from disk', async () => {
    await responses.put(turn('resp_old', null, 'old', NOW - 31 * DAY));
    await responses.put(turn('resp_new', null, 'new', NOW - 29 * DAY));
    expect(await responses.get('resp_old', ALICE, NOW)).toBeUndefined();
    expect(await responses.sweep(NOW)).toBe(1);
    expect(await store.sublevel('response').keys().all()).toEqual(['resp_new']);
    expect(await store.sublevel('response-time').keys().all()).toHaveLength(1);
    expect((await responses.get('resp_new', ALICE, NOW))?.id).toBe('resp_new');
  });

  it('keeps everything with retention 0', async () => {
    await responses.close();
    responses = await ResponseStore.open(store, { retentionDays: 0 });
    await responses.put(turn('resp_ancient', null, 'x', NOW - 3650 * DAY));
    expect(await responses.sweep(NOW)).toBe(0);
    expect((await responses.get('resp_ancient', ALICE, NOW))?.id).toBe('resp_ancient');
  });
});

describe('conversationBefore', () => {
  it('rebuilds a chain oldest first, input then output, without the items\' ids', async () => {
    await responses.put(turn('resp_a', null, 'a'));
    await responses.put(turn('resp_b', 'resp_a', 'b'));
    const items = await conversationBefore(responses, 'resp_b', ALICE, LIMITS);
    expect(items).toEqual([
      { type: 'message', role: 'user', content: 'question a' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'answer a', annotations: [] }] },
      { type: 'message', role: 'user', content: 'question b' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'answer b', annotations: [] }] },
    ]);
  });

  it('names previous_response_id when a link is missing, another caller\'s or the chain too long', async () => {
    await responses.put(turn('resp_a', null, 'a'));
    await responses.put(turn('resp_b', 'resp_a', 'b'));
    await expect(conversationBefore(responses, 'resp_b', BOB, LIMITS)).rejects.toMatchObject({ status: 400, param: 'previous_response_id', code: 'previous_response_not_found' });
    await expect(conversationBefore(responses, 'resp_b', ALICE, { ...LIMITS, maxChain: 1 })).rejects.toMatchObject({ status: 400, code: 'previous_response_chain_too_long' });
    await expect(conversationBefore(responses, 'resp_b', ALICE, { ...LIMITS, maxBytes: 300 })).rejects.toMatchObject({ status: 413, code: 'request_too_large' });
    await responses.delete('resp_a', ALICE);
    await expect(conversationBefore(responses, 'resp_b', ALICE, LIMITS)).rejects.toThrow(/resp_a.*earlier in the chain of 'resp_b'/);
  });
});

describe('resolveItemReferences', () => {
  it('replaces references to the owner\'s stored items and refuses any other, naming it', async () => {
    await responses.put(turn('resp_a', null, 'a'));
    const items = [{ type: 'item_reference', id: 'msg_resp_a_0' }, { type: 'item_reference', id: 'msg_resp_a_in0' }, { role: 'user', content: 'next' }];
    expect(await resolveItemReferences(responses, items, ALICE)).toEqual([
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'answer a', annotations: [] }] },
      { type: 'message', role: 'user', content: 'question a' },
      { role: 'user', content: 'next' },
    ]);
    await expect(resolveItemReferences(responses, [{ role: 'user', content: 'x' }, { type: 'item_reference', id: 'msg_elsewhere' }], ALICE))
      .rejects.toMatchObject({ status: 400, param: 'input[1].id', message: expect.stringContaining("'msg_elsewhere' not found") });
    // Another principal's items are not found, even by their exact ids.
    await expect(resolveItemReferences(responses, items.slice(0, 1), BOB)).rejects.toMatchObject({ status: 400, param: 'input[0].id' });
  });

  it('keeps an item findable through the later response that repeated its id when the earlier one is deleted', async () => {
    await responses.put(turn('resp_a', null, 'a'));
    const repeat = { ...turn('resp_b', null, 'b'), input: [{ id: 'msg_resp_a_in0', type: 'message', role: 'user', content: 'question a' }] };
    await responses.put(repeat);
    expect((await responses.item('msg_resp_a_in0', ALICE))?.response.id).toBe('resp_b');
    await responses.delete('resp_a', ALICE);
    expect((await responses.item('msg_resp_a_in0', ALICE))?.response.id).toBe('resp_b');
  });

  it('forgets item ids with their response (deleted or swept)', async () => {
    await responses.put(turn('resp_a', null, 'a', NOW - 31 * DAY));
    await responses.put(turn('resp_b', null, 'b'));
    await responses.sweep(NOW);
    await responses.delete('resp_b', ALICE);
    expect(await store.sublevel('response-item').keys().all()).toEqual([]);
  });
});

describe('replayableOutput', () => {
  it('keeps messages, function calls and reasoning that carries encrypted_content; drops built-in tool calls', () => {
    expect(replayableOutput([
      { id: 'rs_1', type: 'reasoning', summary: [] },
      { id: 'rs_2', type: 'reasoning', summary: [{ type: 'summary_text', text: 'hmm' }], encrypted_content: 'opaque' },
      { id: 'ws_1', type: 'web_search_call', status: 'completed' },
      { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{}', status: 'completed' },
      { id: 'msg_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'hi', annotations: [] }] },
    ])).toEqual([
      { type: 'reasoning', id: 'rs_2', summary: [{ type: 'summary_text', text: 'hmm' }], encrypted_content: 'opaque' },
      { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{}' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'hi', annotations: [] }] },
    ]);
  });
});
