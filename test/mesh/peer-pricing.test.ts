import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Peers in the routing engine's pricing filter, over real libp2p nodes on loopback: B serves `shared-m` cheaply and
 * advertises its price in its signed record; A serves it too, dearly. A price-capped credential and a cheapest-first
 * group on A go to B; a plain request stays local; the explain route shows the peer's price and who advertised it.
 */
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...extra });
const KEY_CAPPED = 'key-with-max-output-price-1-01';
const KEY_TOO_LOW = 'key-with-max-output-price-0-01';

let upstreamA: MockUpstream;
let upstreamB: MockUpstream;
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  [upstreamA, upstreamB] = await Promise.all([startMockUpstream(), startMockUpstream()]);
  b = await startTestGateway([{ id: 'b-cheap', type: 'openai', base_url: upstreamB.openaiBaseUrl, api_key: TEST_KEY, models: ['shared-m'], max_retries: 0 }], {
    mesh: mesh(),
    pricing: { 'shared-m': { input: 0.1, output: 0.4 } },
  });
  a = await startTestGateway([{ id: 'a-dear', type: 'openai', base_url: upstreamA.openaiBaseUrl, api_key: TEST_KEY, models: ['shared-m'], max_retries: 0 }], {
    mesh: mesh({ bootstrap: b.gateway.mesh!.multiaddrs() }),
    auth: { mode: ['public', 'key'] },
    key_map: { [KEY_CAPPED]: { label: 'capped', max_output_price: 1 }, [KEY_TOO_LOW]: { label: 'too low', max_output_price: 0.1 } },
    pricing: { 'shared-m': { input: 5, output: 15 } },
    models: [{ name: 'by-price', strategy: 'cheapest', targets: [{ provider: 'a-dear', model: 'shared-m' }, { provider: 'peer:*', model: 'shared-m' }] }],
  });
  await vi.waitFor(() => expect(a.gateway.mesh!.peerPrices('shared-m')).toEqual([{ peerId: b.gateway.mesh!.peerId, inputPerMTok: 0.1, outputPerMTok: 0.4 }]), { timeout: 15_000, interval: 100 });
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await Promise.all([upstreamA?.close(), upstreamB?.close()]);
});

beforeEach(() => {
  upstreamA.reset();
  upstreamB.reset();
});

async function chat(model: string, key?: string) {
  const response = await fetch(`${a.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'where to?' }] }),
  });
  return { status: response.status, servedBy: response.headers.get('x-meshgate-served-by'), provider: response.headers.get('x-meshgate-provider'), body: (await response.json()) as { error?: { code: string; message: string } } };
}

describe('peer prices in the routing pricing filter', () => {
  it('reads a peer\'s advertised model entry from its live record (the price a forward and its receipt are checked against)', () => {
    const meshA = a.gateway.mesh!;
    const peer = b.gateway.mesh!.peerId;
    expect(meshA.advertisedModel(peer, 'shared-m')?.price).toEqual({ inputPerMTok: 0.1, outputPerMTok: 0.4 });
    expect(meshA.advertisedModel(peer, 'no-such-model')).toBeUndefined();
    // Its own record is not a peer's advert; an unknown peer has none.
    expect(meshA.advertisedModel(meshA.peerId, 'shared-m')).toBeUndefined();
    expect(meshA.advertisedModel('12D3KooWUnknownPeer', 'shared-m')).toBeUndefined();
  });

  it('a plain request is served locally, peers after (the config order)', async () => {
    const result = await chat('shared-m');
    expect([result.status, result.provider, result.servedBy]).toEqual([200, 'a-dear', a.gateway.mesh!.peerId]);
  });

  it('a price-capped credential drops the dear local provider and is served by the peer whose advert is under the cap', async () => {
    const result = await chat('shared-m', KEY_CAPPED);
    expect(result.status).toBe(200);
    expect(result.servedBy).toBe(b.gateway.mesh!.peerId);
    expect(upstreamA.requests).toHaveLength(0);
  });

  it('a cap below every price, the peers\' included, is a 403 naming the peer\'s advertised price', async () => {
    const result = await chat('shared-m', KEY_TOO_LOW);
    expect(result.status).toBe(403);
    expect(result.body.error?.code).toBe('price_not_allowed');
    expect(result.body.error?.message).toContain('peer:*/shared-m: output price $0.4/MTok');
    expect(upstreamA.requests).toHaveLength(0);
    expect(upstreamB.requests).toHaveLength(0);
  });

  it('a cheapest-first group asks the cheaper peer before the local provider', async () => {
    const result = await chat('by-price');
    expect(result.status).toBe(200);
    expect(result.servedBy).toBe(b.gateway.mesh!.peerId);
    expect(upstreamA.requests).toHaveLength(0);
  });

  it('the explain route shows the peer\'s price and who advertised it', async () => {
    const response = await fetch(`${a.url}/v1/routing/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.gateway.access.adminKey.secret.reveal()}` },
      body: JSON.stringify({ model: 'by-price', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const answer = (await response.json()) as { plan: Array<{ target: string }>; layers: { score: Array<{ target: string; facts: Record<string, unknown> }> } };
    expect(answer.plan.map((p) => p.target)).toEqual(['peer:*/shared-m', 'a-dear/shared-m']);
    expect(answer.layers.score.find((s) => s.target === 'peer:*/shared-m')!.facts).toMatchObject({ input_price: 0.1, output_price: 0.4, priced_by: b.gateway.mesh!.peerId });
  });
});
