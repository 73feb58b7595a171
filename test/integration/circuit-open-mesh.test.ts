import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * A node with the mesh on whose only provider of a model has an open circuit: the plan ranks the mesh before it, and
 * when no reachable peer serves the model the request gets the local answer — 503 `providers_unavailable` with
 * Retry-After (or, in panic mode, one attempt at the provider) — not a 404 saying the model is served nowhere, which
 * SDKs treat as final and do not retry.
 */
describe.each([false, true])('an open circuit on a node with the mesh on (panic %s)', (panic) => {
  let mock: MockUpstream;
  let node: TestGateway;
  beforeAll(async () => {
    mock = await startMockUpstream();
    node = await startTestGateway([{ ...mockProviders(mock).openai, max_retries: 0 }], {
      mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'] },
      routing: { circuit_breaker: { failure_threshold: 2, cooldown_ms: 60_000, panic } },
    });
  });
  afterAll(async () => {
    await node?.close();
    await mock?.close();
  });
  afterEach(() => mock.setDefault({ kind: 'ok' }));
  const chat = () => fetch(`${node.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
  });

  it(panic ? 'tries the provider once more (panic) and answers with what it says' : 'answers 503 providers_unavailable with Retry-After', async () => {
    mock.setDefault({ kind: 'error', status: 500 });
    for (let i = 0; i < 2; i++) expect((await chat()).status).toBe(502);
    expect(node.gateway.breakers.get('openai')!.state()).toBe('open');
    if (!panic) {
      const sent = mock.requests.length;
      const refused = await chat();
      expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([503, 'providers_unavailable']);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(mock.requests.length).toBe(sent);
    } else {
      // The provider recovered: the panic attempt reaches it and the client is served.
      mock.setDefault({ kind: 'ok' });
      expect((await chat()).status).toBe(200);
    }
  });
});
