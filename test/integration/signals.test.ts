import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { mockAndNode, mockProviders } from '../helpers/gateway.js';

/**
 * Quality signals on a real node in key mode: given by the principal that made a request (or the admin), refused for
 * anyone else's with the same 404 as for an unknown id, listed per caller, sanitized, and aggregated for routing.
 */
const KEY_A = 'team-a-signal-key-0123456789';
const KEY_B = 'team-b-signal-key-0123456789';

const ctx = mockAndNode((mock) => [mockProviders(mock).openai], {
  auth: { mode: 'key' },
  key_map: { [KEY_A]: { label: 'team-a' }, [KEY_B]: { label: 'team-b' } },
  signals: { min_weight: 1 },
});

const adminKey = () => ctx.node.gateway.access.adminKey.secret.reveal();

/** One chat request as `key` (with a routing profile when given); its request id (from `x-request-id`). */
async function ask(key: string, content = 'rate me', profile?: string): Promise<string> {
  const client = new OpenAI({ baseURL: `${ctx.node.url}/v1`, apiKey: key, maxRetries: 0, ...(profile ? { defaultHeaders: { 'x-meshgate-profile': profile } } : {}) });
  const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }).withResponse();
  return response.headers.get('x-request-id')!;
}

const post = (key: string, body: unknown) =>
  fetch(`${ctx.node.url}/v1/signals`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
const list = async (key: string, query = '') => {
  const res = await fetch(`${ctx.node.url}/v1/signals${query}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Array<Record<string, unknown>> }).data;
};

describe('quality signals', () => {
  it('stores a signal from the principal that made the request, sent right after its answer', async () => {
    const id = await ask(KEY_A);
    const res = await post(KEY_A, { request_id: id, signal: 'thumbs_up', note: 'great answer' });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      object: 'signal', request_id: id, signal: 'thumbs_up', score: 1, note: 'great answer', model: 'gpt-4o', target: 'openai', replaced: false,
      principal: { kind: 'virtual_key' }, by: { kind: 'virtual_key' },
    });
    const mine = await list(KEY_A, `?request_id=${id}`);
    expect(mine).toHaveLength(1);
    expect(await list(KEY_B, `?request_id=${id}`)).toEqual([]);
  });

  it('refuses a signal for someone else\'s request with the answer an unknown id gets', async () => {
    const id = await ask(KEY_A);
    await ctx.node.waitForOutcomes(ctx.node.outcomes.length);
    const theirs = await post(KEY_B, { request_id: id, signal: 'thumbs_down' });
    const unknown = await post(KEY_B, { request_id: 'req_00000000000000000000000000000000', signal: 'thumbs_down' });
    expect(theirs.status).toBe(404);
    expect(unknown.status).toBe(404);
    const [a, b] = [await theirs.json(), await unknown.json()] as Array<{ error: Record<string, unknown> }>;
    expect(a).toEqual(b);
    expect(a!.error.code).toBe('request_not_found');
    expect(await list(adminKey(), `?request_id=${id}`)).toEqual([]);
  });

  it('lets the admin rate any request, replacing its earlier signal, and shows every signal to the admin', async () => {
    const id = await ask(KEY_B);
    expect((await post(KEY_B, { request_id: id, signal: 'success' })).status).toBe(201);
    const res = await post(adminKey(), { request_id: id, signal: 'failure', score: 0.25 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ replaced: true, score: 0.25, by: { kind: 'admin' }, principal: { kind: 'virtual_key' } });
    const all = await list(adminKey(), `?request_id=${id}`);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ signal: 'failure', score: 0.25 });
  });

  it('sanitizes the note like user text and bounds its length', async () => {
    const id = await ask(KEY_A);
    const secret = 'sk-proj-Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5';
    const res = await post(KEY_A, { request_id: id, signal: 'thumbs_down', note: `leaked ${secret}\u0007 here` });
    expect(res.status).toBe(201);
    const { note } = (await res.json()) as { note: string };
    expect(note).not.toContain(secret);
    expect(note).toBe('leaked [REDACTED:OPENAI_API_KEY] here');

    const long = await post(KEY_A, { request_id: id, signal: 'thumbs_down', note: 'x'.repeat(1_001) });
    expect(long.status).toBe(400);
    expect(((await long.json()) as { error: { param: string } }).error.param).toBe('note');
    const bad = await post(KEY_A, { request_id: id, signal: 'meh' });
    expect(bad.status).toBe(400);
  });

  it('aggregates the scores per target and model, and shows the aggregate to the admin', async () => {
    const before = ctx.node.gateway.signals.aggregate.scoreOf('openai', 'gpt-4o');
    expect(before).toBeDefined();
    const ids = [await ask(KEY_A, 'one'), await ask(KEY_A, 'two'), await ask(KEY_A, 'three')];
    for (const id of ids) expect((await post(KEY_A, { request_id: id, signal: 'thumbs_down' })).status).toBe(201);
    const after = ctx.node.gateway.signals.aggregate.scoreOf('openai', 'gpt-4o')!;
    expect(after).toBeLessThan(before!);

    const summary = await fetch(`${ctx.node.url}/v1/signals/summary`, { headers: { authorization: `Bearer ${adminKey()}` } });
    expect(summary.status).toBe(200);
    const groups = ((await summary.json()) as { data: Array<{ target: string; model: string; score: number; weight: number }> }).data;
    const group = groups.find((g) => g.target === 'openai' && g.model === 'gpt-4o')!;
    expect(group.score).toBeCloseTo(after, 6);
    expect(group.weight).toBeGreaterThan(3);
    expect((await fetch(`${ctx.node.url}/v1/signals/summary`, { headers: { authorization: `Bearer ${KEY_A}` } })).status).toBe(401);
  });

  it('counts a signal for the profile its request was planned with (from the record), beside the overall figure', async () => {
    const aggregate = ctx.node.gateway.signals.aggregate;
    expect(aggregate.scoreOf('openai', 'gpt-4o', 'quality')).toBe(aggregate.scoreOf('openai', 'gpt-4o')); // no own signals yet: the overall figure
    const ids = [await ask(KEY_A, 'q1', 'quality'), await ask(KEY_A, 'q2', 'quality')];
    for (const id of ids) {
      const res = await post(KEY_A, { request_id: id, signal: 'thumbs_up' });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ profile: 'quality' });
    }
    // Only thumbs-up under the profile: its own score is the best one, whatever the overall figure holds.
    expect(aggregate.scoreOf('openai', 'gpt-4o', 'quality')).toBeCloseTo(1, 6);
    expect(aggregate.scoreOf('openai', 'gpt-4o')).toBeLessThan(1);
    const summary = await fetch(`${ctx.node.url}/v1/signals/summary`, { headers: { authorization: `Bearer ${adminKey()}` } });
    const groups = ((await summary.json()) as { data: Array<{ target: string; model: string; profile: string | null; weight: number }> }).data;
    expect(groups.find((g) => g.target === 'openai' && g.model === 'gpt-4o' && g.profile === 'quality')?.weight).toBeGreaterThan(1.9);
  });
});
