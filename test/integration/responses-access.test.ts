import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Stored responses belong to the principal that created them, and a rebuilt conversation is a request like any
 * other: sanitized and held to the caller's quotas as a whole.
 */
const KEY_A = 'team-a-virtual-key-0123456789';
const KEY_B = 'team-b-virtual-key-0123456789';
const KEY_SMALL = 'team-c-virtual-key-0123456789';
const SECRET = 'sk-proj-OhbVrpoiVgRV5IfLBcbfnoGMbJmTPSIAoCLrZ3aWZkSBvrjnT3BlbkFJ9Wvgfygw2wMqZcUDIh7y';

let mock: MockUpstream;
let node: TestGateway;
const client = (key: string) => new OpenAI({ baseURL: `${node.url}/v1`, apiKey: key, maxRetries: 0 });

beforeAll(async () => {
  mock = await startMockUpstream();
  const p = mockProviders(mock);
  node = await startTestGateway([p.openai, p.anthropic], {
    auth: { mode: ['key'] },
    key_map: {
      [KEY_A]: { label: 'team-a' },
      [KEY_B]: { label: 'team-b' },
      [KEY_SMALL]: { label: 'team-c', tokens: { limit: 2_500, period: 'day' } },
    },
    sanitization: { enabled: true },
  });
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

describe('stored responses per principal', () => {
  it('are read, continued and deleted only by the principal that created them', async () => {
    const a = client(KEY_A);
    const b = client(KEY_B);
    const admin = client(node.gateway.access.adminKey.secret.reveal());
    const created = await a.responses.create({ model: 'gpt-4o', input: 'private note' });
    expect((await a.responses.retrieve(created.id)).id).toBe(created.id);
    // Another principal — the admin key included — sees no such response (not even that it exists).
    await expect(b.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(admin.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(b.responses.inputItems.list(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(b.responses.create({ model: 'gpt-4o', previous_response_id: created.id, input: 'leak it' })).rejects.toMatchObject({ status: 400, param: 'previous_response_id' });
    await expect(b.responses.delete(created.id)).rejects.toMatchObject({ status: 404 });
    // Nor its items by reference — not even through a provider that keeps responses of its own.
    const itemId = created.output[0]!.id!;
    await expect(b.responses.create({ model: 'gpt-4o', input: [{ type: 'item_reference', id: itemId }] })).rejects.toMatchObject({ status: 400, param: 'input[0].id' });
    expect((await a.responses.create({ model: 'gpt-4o', input: [{ type: 'item_reference', id: itemId }, { role: 'user', content: 'go on' }] })).status).toBe('completed');
    expect((await a.responses.retrieve(created.id)).id).toBe(created.id);
    await expect(client('not-a-key').responses.retrieve(created.id)).rejects.toMatchObject({ status: 401 });
  });
});

describe('a rebuilt conversation', () => {
  it('is sanitized, stored history and upstream answers included', async () => {
    const a = client(KEY_A);
    mock.reset();
    // The provider's answer holds a credential (it was never scanned: answers are not requests).
    mock.enqueue({ kind: 'text', text: `the key is ${SECRET}` });
    const first = await a.responses.create({ model: 'claude-sonnet-4-5', input: `remember ${SECRET}` });
    expect(JSON.stringify(mock.requests.at(-1)!.body)).not.toContain(SECRET);
    const items = await a.responses.inputItems.list(first.id);
    expect(JSON.stringify(items.data)).toContain('[REDACTED:OPENAI_API_KEY]');
    expect(JSON.stringify(items.data)).not.toContain(SECRET);
    const { response } = await a.responses.create({ model: 'gpt-4o', previous_response_id: first.id, input: 'what was it?' }).withResponse();
    expect(response.headers.get('x-meshgate-sanitized')).toContain('OPENAI_API_KEY=');
    const upstream = JSON.stringify(mock.requests.at(-1)!.body);
    expect(upstream).toContain('the key is [REDACTED:OPENAI_API_KEY]');
    expect(upstream).not.toContain(SECRET);
  });

  it('counts against the token quota as a whole', async () => {
    const small = client(KEY_SMALL);
    const first = await small.responses.create({ model: 'gpt-4o', input: 'long context '.repeat(460), max_output_tokens: 16 });
    // Alone, 'and then?' fits what is left of the quota; with the history it continues, it does not.
    await expect(small.responses.create({ model: 'gpt-4o', previous_response_id: first.id, input: 'and then?', max_output_tokens: 16 })).rejects.toMatchObject({ status: 429 });
    const alone = await small.responses.create({ model: 'gpt-4o', input: 'and then?', max_output_tokens: 16 });
    expect(alone.status).toBe('completed');
  });
});
