import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * The receipts table of POST /v1/query on two real nodes: A has no provider for gpt-4o and is served by B through
 * the mesh; each node's query shows the same receipt from its own side (B served it, A consumed it).
 */
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...extra });

let upstream: MockUpstream;
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  upstream = await startMockUpstream();
  b = await startTestGateway([{ id: 'b-openai', type: 'openai', base_url: upstream.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 }], { mesh: mesh() });
  a = await startTestGateway([], { mesh: mesh({ bootstrap: b.gateway.mesh!.multiaddrs() }) });
  await vi.waitFor(() => expect(a.gateway.mesh!.knownModels().get('gpt-4o')).toEqual([b.gateway.mesh!.peerId]), { timeout: 15_000, interval: 100 });
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await upstream?.close();
});

async function receipts(node: TestGateway): Promise<unknown[][]> {
  const res = await fetch(`${node.url}/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${node.gateway.access.adminKey.secret.reveal()}` },
    body: JSON.stringify({ sql: 'SELECT direction, issuer, subject, model, seq, cost_micros > 0 FROM receipts ORDER BY seq' }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { rows: unknown[][] }).rows;
}

describe('receipts in SQL', () => {
  it('shows a forwarded request\'s receipt on both nodes, each from its own side', async () => {
    const res = await fetch(`${a.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'through the mesh' }] }),
    });
    expect(res.status).toBe(200);
    // A checks and stores the receipt after its client has the answer.
    await vi.waitFor(async () => expect(await a.gateway.ledger!.list()).toHaveLength(1), { timeout: 10_000, interval: 50 });
    await Promise.all([a.gateway.analytics.ready(), b.gateway.analytics.ready()]);
    const [aPeer, bPeer] = [a.gateway.mesh!.peerId, b.gateway.mesh!.peerId];
    expect(await receipts(b)).toEqual([['served', bPeer, aPeer, 'gpt-4o', 1, 1]]);
    expect(await receipts(a)).toEqual([['consumed', bPeer, aPeer, 'gpt-4o', 1, 1]]);
  });
});
