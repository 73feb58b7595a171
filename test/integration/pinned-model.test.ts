import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let mock: MockUpstream;
let node: TestGateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  node = await startTestGateway([
    { id: 'first', type: 'openai', base_url: `${mock.url}/v1`, api_key: 'test-key', models: ['gpt-4o-mini'] },
    { id: 'second', type: 'openai', base_url: `${mock.url}/v1`, api_key: 'test-key', models: ['gpt-4o-mini'], model_map: { 'gpt-4o': 'gpt-4o-2024-08-06' } },
  ]);
});
afterAll(async () => {
  await node?.close();
  await mock?.close();
});

describe('a model pinned to a provider (provider-id/model)', () => {
  it('reaches that provider under the model name alone', async () => {
    const before = mock.requests.length;
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'second/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const sent = mock.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect((sent[0]!.body as { model: string }).model).toBe('gpt-4o-mini');
    // The outcome names the model (for its price and signals), the pin stays the requested name.
    const outcome = node.outcomes.find((o) => o.requestedModel === 'second/gpt-4o-mini');
    expect(outcome).toMatchObject({ requestedModel: 'second/gpt-4o-mini', model: 'gpt-4o-mini', provider: 'second' });
  });

  it('applies the pinned provider model_map to the name after the prefix', async () => {
    const before = mock.requests.length;
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'second/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((mock.requests.slice(before)[0]!.body as { model: string }).model).toBe('gpt-4o-2024-08-06');
  });
});
