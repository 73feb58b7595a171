import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Peers that die while serving: the asking node A must move on to the next peer when the one it chose dies before
 * the first byte, and must give its client a proper error event when a peer dies mid-stream.
 */
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 500, dht_timeout_ms: 3_000, ...extra });
const provider = (mock: MockUpstream, id: string) => ({ id, type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['kill-model'], max_retries: 0 });

let hub: TestGateway;
let a: TestGateway;
const upstreams: MockUpstream[] = [];
const peers: TestGateway[] = [];

async function peer(behaviour: Parameters<MockUpstream['setDefault']>[0]): Promise<{ node: TestGateway; upstream: MockUpstream }> {
  const upstream = await startMockUpstream();
  upstream.setDefault(behaviour);
  upstreams.push(upstream);
  const node = await startTestGateway([provider(upstream, `p${peers.length}`)], { mesh: mesh({ bootstrap: hub.gateway.mesh!.multiaddrs() }) });
  peers.push(node);
  return { node, upstream };
}

async function knows(count: number) {
  await vi.waitFor(() => expect(a.gateway.mesh!.knownModels().get('kill-model')?.length ?? 0).toBeGreaterThanOrEqual(count), { timeout: 15_000, interval: 100 });
}

beforeAll(async () => {
  hub = await startTestGateway([], { mesh: mesh() });
  a = await startTestGateway([], { mesh: mesh({ bootstrap: hub.gateway.mesh!.multiaddrs() }) });
}, 30_000);

afterAll(async () => {
  await Promise.all([...peers, a, hub].map((g) => g?.close().catch(() => undefined)));
  await Promise.all(upstreams.map((u) => u.close()));
});

describe('peers lost while serving', () => {
  it('a peer killed before the first byte is replaced by the next peer', async () => {
    const doomed = await peer({ kind: 'hang' });
    const healthy = await peer({ kind: 'ok' });
    await knows(2);
    const client = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 20_000 });
    let killed = false;
    // Until A has picked the doomed peer once (bounded), every request must still be answered by the healthy one.
    for (let i = 0; i < 6 && !killed; i++) {
      const pending = client.chat.completions.create({ model: 'kill-model', messages: [{ role: 'user', content: 'survive' }] }).withResponse();
      const picked = await Promise.race([pending.then(() => 'answered' as const), doomed.upstream.waitForRequests(1, 20_000).then(() => 'doomed' as const)]);
      if (picked === 'doomed') {
        await doomed.node.gateway.close(); // the peer dies with the request in flight, before any byte
        killed = true;
      }
      const { response } = await pending;
      expect(response.headers.get('x-meshgate-served-by')).toBe(healthy.node.gateway.mesh!.peerId);
    }
    expect(killed).toBe(true);
  });

  it('a peer killed mid-stream gives the client a proper error event', async () => {
    const slow = await peer({ kind: 'slow', chunkDelayMs: 150 });
    // Only the slow peer serves this model from now on.
    for (const other of peers.slice(0, -1)) await other.close().catch(() => undefined);
    await knows(1);
    const client = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'kill-model', stream: true, messages: [{ role: 'user', content: 'a b c d e f g h i j k l' }] });
    let received = 0;
    const error = await (async () => {
      for await (const _chunk of stream) {
        received++;
        if (received === 2) void slow.node.gateway.mesh!.stop();
      }
    })().catch((e) => e);
    expect(received).toBeGreaterThanOrEqual(2);
    expect(error).toBeInstanceOf(OpenAI.APIError);
  });
});
