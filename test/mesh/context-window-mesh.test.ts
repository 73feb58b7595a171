import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * With the mesh on, a request longer than every local target's context window is still a 400
 * `no_eligible_target` naming each dropped target and why, when no reachable peer serves the model either —
 * not a 404 `model_not_found` for a model this node does serve.
 */
let upstream: MockUpstream;
let node: TestGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  node = await startTestGateway([{ id: 'small', type: 'openai', base_url: upstream.openaiBaseUrl, api_key: TEST_KEY, models: ['small-m'], max_retries: 0 }], {
    mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 500 },
    models: [
      { name: 'short', targets: [{ provider: 'small', model: 'small-m', context_window: 1_000 }] },
      { name: 'short-or-peer', targets: [{ provider: 'small', model: 'small-m', context_window: 1_000 }, { provider: 'peer:*', model: 'small-m' }] },
    ],
  });
}, 30_000);

afterAll(async () => {
  await node?.close();
  await upstream?.close();
});

async function chat(model: string, content: string) {
  const response = await fetch(`${node.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string; details?: unknown } } };
}

describe('the context-window filter with the mesh on and no peer serving the model', () => {
  it('fits: served locally', async () => {
    expect((await chat('short', 'hello')).status).toBe(200);
  });

  for (const model of ['short', 'short-or-peer']) {
    it(`${model}: too long for every local target is 400 no_eligible_target, naming the context window`, async () => {
      const before = upstream.requests.length;
      const result = await chat(model, 'word '.repeat(2_000));
      expect(result.status).toBe(400);
      expect(result.body.error?.code).toBe('no_eligible_target');
      expect(result.body.error?.message).toContain('small/small-m');
      expect(result.body.error?.message).toContain('context window of 1000');
      if (model === 'short-or-peer') expect(result.body.error?.message).toContain('peer:*/small-m: no reachable mesh peer serves it');
      expect(upstream.requests.length).toBe(before);
    });
  }
});
