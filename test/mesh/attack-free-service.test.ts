import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { LEDGER_PROTOCOL } from '../../src/ledger/index.js';
import { meshConfigSchema, meshConfigWarnings, type MeshNode } from '../../src/mesh/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Attack class "free service": a requesting peer that tries to be served without being charged — by resetting the
 * stream while the answer is relayed or before the head, or by opening many requests at once while its debt is
 * still zero. Two whole gateways on loopback: A serves nothing itself, B serves gpt-4o through a mock upstream.
 */
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...extra });

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

function pairFor(serverMesh: Record<string, unknown>) {
  const nodes = {} as { a: TestGateway; b: TestGateway };
  beforeAll(async () => {
    nodes.b = await startTestGateway([{ id: 'b-openai', type: 'openai', base_url: upstream.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 }], { mesh: mesh(serverMesh) });
    nodes.a = await startTestGateway([], { mesh: mesh({ bootstrap: nodes.b.gateway.mesh!.multiaddrs(), reconcile_interval_seconds: 0 }) });
    await vi.waitFor(() => expect(nodes.a.gateway.mesh!.knownModels().has('gpt-4o')).toBe(true), { timeout: 15_000, interval: 100 });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([nodes.a?.close(), nodes.b?.close()]);
  });
  return nodes;
}

/** Receipts B issued to A. */
const issuedTo = async (b: TestGateway, a: TestGateway) => (await b.gateway.ledger!.list(a.gateway.mesh!.peerId)).filter((r) => r.issuer === b.gateway.mesh!.peerId);

const chat = (a: TestGateway, content: string, stream: boolean, signal?: AbortSignal) =>
  fetch(`${a.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal,
    body: JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content }] }),
  });

describe('a requester that resets the stream', () => {
  const nodes = pairFor({ reconcile_interval_seconds: 0 });

  it('mid-stream is still charged: the serving node issues a receipt for what it relayed and records an abort, not an upstream failure', async () => {
    const { a, b } = nodes;
    upstream.enqueue({ kind: 'slow', chunkDelayMs: 300 });
    const before = b.outcomes.length;
    const receiptsBefore = (await issuedTo(b, a)).length;
    const controller = new AbortController();
    const response = await chat(a, 'one two three four five six seven eight nine ten', true, controller.signal);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    // Part of the answer reached the client (the mock's words arrive one per event), then it leaves.
    let received = '';
    while (!received.includes('says')) received += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    await reader.cancel().catch(() => undefined);

    const served = (await b.waitForOutcomes(before + 1, 10_000))[before]!;
    expect(served.principal).toEqual({ kind: 'peer', id: a.gateway.mesh!.peerId });
    expect(served).toMatchObject({ clientAborted: true, status: 200, errorType: 'client_closed' });
    expect(served.usage!.outputTokens).toBeGreaterThan(0);
    await vi.waitFor(async () => expect((await issuedTo(b, a)).length).toBe(receiptsBefore + 1), { timeout: 5_000, interval: 50 });
    const receipt = (await issuedTo(b, a)).at(-1)!;
    expect(receipt.requestId).toBe(served.requestId);
    expect(receipt.cost).toBeGreaterThan(0);
    // Unacknowledged (the trailer never reached A): it counts toward A's credit limit on B.
    expect(receipt.ack).toBeUndefined();
    expect(await b.gateway.ledger!.unacknowledged(a.gateway.mesh!.peerId)).toBeGreaterThanOrEqual(receipt.cost);
  });

  it('before the head of a non-streamed answer is charged for the input the serving node\'s upstream received', async () => {
    const { a, b } = nodes;
    upstream.enqueue({ kind: 'hang' });
    const before = b.outcomes.length;
    const receiptsBefore = (await issuedTo(b, a)).length;
    const requestsBefore = upstream.requests.length;
    const controller = new AbortController();
    const pending = chat(a, 'a question whose answer never comes back', false, controller.signal).catch((err: Error) => err);
    await vi.waitFor(() => expect(upstream.requests.slice(requestsBefore).some((r) => r.path === '/v1/chat/completions')).toBe(true), { timeout: 10_000, interval: 20 });
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);

    const served = (await b.waitForOutcomes(before + 1, 10_000))[before]!;
    expect(served).toMatchObject({ clientAborted: true, status: 499, errorType: 'client_closed', usageEstimated: true });
    await vi.waitFor(async () => expect((await issuedTo(b, a)).length).toBe(receiptsBefore + 1), { timeout: 5_000, interval: 50 });
    const receipt = (await issuedTo(b, a)).at(-1)!;
    expect(receipt.requestId).toBe(served.requestId);
    expect(receipt.cost).toBeGreaterThan(0);
  });
});

/** Makes `node` lose every acknowledgement it sends: a requester that never pays. */
function neverAcknowledge(node: MeshNode) {
  const send = node.sendMessage.bind(node);
  return vi.spyOn(node, 'sendMessage').mockImplementation(async (peerId, protocol, message, timeoutMs) => {
    if (protocol === LEDGER_PROTOCOL && (message as { type?: string }).type === 'ack') throw new Error('connection reset (simulated)');
    return send(peerId, protocol, message, timeoutMs);
  });
}

describe('many requests at once against a credit limit of one receipt', () => {
  // Every request reaches B's credit check (none is turned away as busy by the per-peer cap first).
  const nodes = pairFor({ credit_limit_usd: 0.000001, reconcile_interval_seconds: 0, max_concurrent_per_peer: 64 });

  it('serves one: the work in flight counts toward the limit, so the others are refused with 402 while it runs', async () => {
    const { a, b } = nodes;
    const spy = neverAcknowledge(a.gateway.mesh!);
    upstream.setDefault({ kind: 'slow', chunkDelayMs: 100 });
    try {
      const responses = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const response = await chat(a, `concurrent request ${i} with a few more words to stream`, true);
        return { status: response.status, servedBy: response.headers.get('x-meshgate-served-by'), text: await response.text() };
      }));
      const served = responses.filter((r) => r.status === 200);
      expect(served).toHaveLength(1);
      expect(served[0]!.servedBy).toBe(b.gateway.mesh!.peerId);
      const refused = responses.filter((r) => r.status !== 200);
      expect(refused).toHaveLength(19);
      for (const r of refused) expect(r.text).toMatch(/402.*over this node's credit limit/);
      expect(await issuedTo(b, a)).toHaveLength(1);
    } finally {
      upstream.setDefault({ kind: 'ok' });
      spy.mockRestore();
    }
  });
});

describe('the start-up warning for a credit limit on an open mesh', () => {
  it('is logged by a node that starts with credit_limit_usd and neither psk nor allow_peers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-open-mesh-'));
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const config = parseConfig({ server: { host: '127.0.0.1', port: 0 }, storage: { dir }, providers: [], mesh: mesh({ credit_limit_usd: 5 }) }, 'test config', {});
    const gateway = await Gateway.start(config, { logger, skipDiscovery: true });
    try {
      expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toContainEqual(expect.stringMatching(/credit_limit_usd is set on an open mesh/));
    } finally {
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('warns when credit_limit_usd is set without psk or allow_peers, and not otherwise', () => {
    const config = (extra: Record<string, unknown>) => meshConfigSchema.parse({ enabled: true, ...extra });
    expect(meshConfigWarnings(config({ credit_limit_usd: 5 }))).toEqual([expect.stringMatching(/credit_limit_usd is set on an open mesh.*new peer id/)]);
    expect(meshConfigWarnings(config({ credit_limit_usd: 5, allow_peers: ['12D3KooWabc'] }))).toEqual([]);
    expect(meshConfigWarnings(config({ credit_limit_usd: 5, psk: 'a'.repeat(64) }))).toEqual([]);
    expect(meshConfigWarnings(config({}))).toEqual([]);
  });
});
