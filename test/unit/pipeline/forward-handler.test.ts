import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { codecs } from '../../../src/formats/index.js';
import { CreditReservations, Ledger, signingKeyFromRaw } from '../../../src/ledger/index.js';
import type { GatewayRequest } from '../../../src/pipeline/types.js';
import { forwardHandler } from '../../../src/gateway/mesh-bridge.js';
import type { ForwardRequestFrame } from '../../../src/mesh/index.js';
import { startMockUpstream, type MockUpstream } from '../../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../../helpers/gateway.js';

/** The serving side of a forward, driven directly with frames a peer could send. */
let mock: MockUpstream;
let node: TestGateway;
beforeAll(async () => {
  mock = await startMockUpstream();
  node = await startTestGateway([{ id: 'mock', type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0, timeouts: { first_byte_ms: 30_000 } }]);
});
afterAll(async () => {
  await node?.close();
  await mock?.close();
});

const frame = (overrides: Partial<ForwardRequestFrame>): ForwardRequestFrame => ({
  id: `req_${Math.random().toString(36).slice(2)}`, format: 'openai', operation: 'chat', model: 'gpt-4o', stream: false,
  body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'from a peer' }] }, hop: 1, visited: ['12D3KooWRequester'], deadline: Date.now() + 10_000,
  ...overrides,
});

/** `signal` stands for what the forward server passes: the requester going away, or the frame's deadline passing. */
async function serve(f: ForwardRequestFrame, signal = new AbortController().signal) {
  const handle = forwardHandler(node.gateway.pipeline, { logger: pino({ level: 'silent' }), priceOf: () => undefined });
  const response = await handle(f, { peerId: '12D3KooWRequester', signal });
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  return { status: response.head.status, body: Buffer.concat(chunks).toString('utf8') };
}

describe('forwarded requests, as the serving node sees them', () => {
  it('answers 400 for a body that is not a JSON object', async () => {
    for (const body of [null, [], 'text']) expect((await serve(frame({ body }))).status).toBe(400);
  });

  it('answers 400 for a body nested too deeply to process, as a client of this node gets (never a 500)', async () => {
    const body = JSON.parse(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    const result = await serve(frame({ body }));
    expect(result.status).toBe(400);
    expect(JSON.parse(result.body)).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it('answers 504 when the deadline passes while the provider is still working', async () => {
    // The deadline passes once the provider has the request (not after a fixed time: under load the request could
    // still be on its way, and the hang it was meant to meet would be left queued for the next test).
    const before = mock.requests.length;
    mock.enqueue({ kind: 'hang' });
    const deadline = new AbortController();
    const served = serve(frame({}), deadline.signal);
    await mock.waitForRequests(before + 1);
    deadline.abort(new DOMException('The forward deadline passed.', 'TimeoutError'));
    expect((await served).status).toBe(504);
  });
});

describe('the credit check of a forwarded request', () => {
  /** How often the openai codec validates a body while `f` is served, with a credit limit or without. */
  async function validationsServing(f: ForwardRequestFrame, credit?: CreditReservations): Promise<{ count: number; status: number; estimates: number[] }> {
    const estimates: number[] = [];
    const admit = credit && vi.spyOn(credit, 'admit');
    admit?.mockImplementation(async function (this: CreditReservations, peer, micros) {
      estimates.push(micros);
      return CreditReservations.prototype.admit.call(this, peer, micros);
    });
    const validate = vi.spyOn(codecs.openai, 'requestToCanonical');
    try {
      const handle = forwardHandler(node.gateway.pipeline, { logger: pino({ level: 'silent' }), priceOf: () => ({ inputPerMTok: 1, outputPerMTok: 2 }), ...(credit ? { credit } : {}) });
      const response = await handle(f, { peerId: '12D3KooWRequester', signal: new AbortController().signal });
      for await (const _chunk of response.body) { /* drain */ }
      return { count: validate.mock.calls.length, status: response.head.status, estimates };
    } finally {
      validate.mockRestore();
      admit?.mockRestore();
    }
  }

  it('validates and estimates the body once, for the credit check and the pipeline both', async () => {
    const body = { model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'from a peer with credit' }] };
    const without = await validationsServing(frame({ body }));
    const withCredit = await validationsServing(frame({ body }), new CreditReservations(async () => 0, 1_000_000));
    expect([without.status, withCredit.status]).toEqual([200, 200]);
    expect(withCredit.count).toBe(without.count);
    // The reservation is the estimate at this node's price: some input and the 100 output tokens asked for at $2/MTok.
    expect(withCredit.estimates).toHaveLength(1);
    expect(withCredit.estimates[0]).toBeGreaterThan(200);
  });

  it('validates a body again once this node\'s sanitizer changed it', async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'my key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h' }] };
    const without = await validationsServing(frame({ body }));
    const withCredit = await validationsServing(frame({ body }), new CreditReservations(async () => 0, 1_000_000));
    expect(withCredit.count).toBe(without.count + 1);
  });
});

describe('what a requesting peer cannot get around', () => {
  it('counts the hops and the path as this node knows them, whatever the frame claims', async () => {
    const seen: GatewayRequest[] = [];
    const handle = vi.spyOn(node.gateway.pipeline, 'handle').mockImplementation(async (req) => {
      seen.push(req);
      throw new Error('stop here');
    });
    try {
      await serve(frame({ hop: 0, visited: [] }));
      expect(seen[0]!.hop).toEqual({ count: 1, visited: ['12D3KooWRequester'] });
    } finally {
      handle.mockRestore();
    }
  });

  it('issues the receipt when the requester closes a stream before its trailer (no free service by resetting)', async () => {
    const key = await generateKeyPair('Ed25519');
    const self = peerIdFromPrivateKey(key).toString();
    const requester = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    const ledger = Ledger.open(node.gateway.store, self, signingKeyFromRaw(key.raw));
    const handle = forwardHandler(node.gateway.pipeline, { logger: pino({ level: 'silent' }), ledger, priceOf: () => ({ inputPerMTok: 2.5, outputPerMTok: 10 }) });
    const response = await handle(frame({ stream: true, body: { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'one two three four five' }] } }), { peerId: requester, signal: new AbortController().signal });
    const body = response.body[Symbol.asyncIterator]();
    expect((await body.next()).done).toBe(false);
    await body.return?.();
    await expect.poll(async () => (await ledger.list(requester)).length, { timeout: 2_000, interval: 20 }).toBe(1);
    expect(await ledger.unacknowledged(requester)).toBeGreaterThan(0);
  });
});


describe('the serving node applies its own rules to forwarded requests', () => {
  let limited: TestGateway;
  let upstream: MockUpstream;
  beforeAll(async () => {
    upstream = await startMockUpstream();
    limited = await startTestGateway(
      [{ id: 'mock', type: 'openai', base_url: upstream.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o', 'gpt-4o-mini'] }],
      { mesh: { peer_limits: { requests: { limit: 1, period: 'day' }, models: ['gpt-4o'] } } },
    );
  });
  afterAll(async () => {
    await limited?.close();
    await upstream?.close();
  });

  const serveAs = async (peerId: string, f: ForwardRequestFrame) => {
    const response = await forwardHandler(limited.gateway.pipeline, { logger: pino({ level: 'silent' }), priceOf: () => undefined })(f, { peerId, signal: new AbortController().signal });
    for await (const _chunk of response.body) { /* drain */ }
    return response.head.status;
  };

  it('limits each peer on its own (mesh.peer_limits), and refuses models outside the peer allowlist', async () => {
    expect(await serveAs('12D3KooWPeerOne', frame({}))).toBe(200);
    expect(await serveAs('12D3KooWPeerOne', frame({}))).toBe(429);
    expect(await serveAs('12D3KooWPeerTwo', frame({}))).toBe(200);
    expect(await serveAs('12D3KooWPeerThree', frame({ model: 'gpt-4o-mini', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } }))).toBe(403);
  });

  it('sanitizes a forwarded request before its own providers see it', async () => {
    const key = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h';
    const before = upstream.requests.length;
    expect(await serveAs('12D3KooWPeerFour', frame({ body: { model: 'gpt-4o', messages: [{ role: 'user', content: `my key ${key}` }] } }))).toBe(200);
    const sent = JSON.stringify(upstream.requests.slice(before).map((r) => r.body));
    expect(sent).toContain('[REDACTED:OPENAI_API_KEY]');
    expect(sent).not.toContain(key);
  });
});
