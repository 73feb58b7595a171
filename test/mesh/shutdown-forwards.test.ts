import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * A node that shuts down while it serves a stream for a peer: the stream is finished (not cut when libp2p stops),
 * new forwarded requests are refused meanwhile, and the node is closed as soon as the stream is done.
 */
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...extra });

let upstream: MockUpstream;
let serving: TestGateway;
let asking: TestGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  serving = await startTestGateway(
    [{ id: 'b-openai', type: 'openai', base_url: upstream.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 }],
    { mesh: mesh(), server: { shutdown_grace_seconds: 30 } },
  );
  asking = await startTestGateway([], { mesh: mesh({ bootstrap: serving.gateway.mesh!.multiaddrs() }) });
  await vi.waitFor(() => expect(asking.gateway.mesh!.knownModels().has('gpt-4o')).toBe(true), { timeout: 15_000, interval: 100 });
}, 60_000);

afterAll(async () => {
  await asking?.close();
  await serving?.close(); // closed already by the test; removes its data directory
  await upstream?.close();
});

describe('shutdown of a node serving peers', () => {
  it('finishes a forwarded stream in flight, refuses new forwards meanwhile, then closes', async () => {
    upstream.setDefault({ kind: 'slow', chunkDelayMs: 150 });
    const res = await fetch(`${asking.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'one two three four five six seven eight' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-meshgate-served-by')).toBe(serving.gateway.mesh!.peerId);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    expect(serving.gateway.mesh!.inFlight).toBe(1);

    let closedAt = 0;
    const closing = serving.gateway.close().then(() => (closedAt = performance.now()));
    // While it drains, the serving node takes no new forwarded request: the asking node gets no answer from it.
    const refused = await fetch(`${asking.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'while draining' }] }),
    });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    await refused.text();
    expect(upstream.requests).toHaveLength(1);

    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value, { stream: true });
    const streamEndedAt = performance.now();
    expect(text).toContain('data: [DONE]');
    expect(text).not.toContain('"error"');
    await closing;
    expect(closedAt).toBeGreaterThan(0);
    expect(closedAt - streamEndedAt).toBeLessThan(5_000);
    expect(serving.outcomes.at(-1)).toMatchObject({ status: 200, stream: true });
  });
});
