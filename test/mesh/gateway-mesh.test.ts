import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ledgerTransportOver } from '../../src/gateway/mesh-services.js';
import { Ledger, reconcileWithPeer, signingKeyFromRaw } from '../../src/ledger/index.js';
import { Store } from '../../src/store/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUntilError } from '../helpers/streams.js';

/**
 * Whole gateways federated over real libp2p nodes on loopback: A serves no model itself (or a failing one), B and C
 * serve gpt-4o through their own mock upstreams. Clients talk only to A.
 */
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...extra });

let upstreamB: MockUpstream;
let upstreamC: MockUpstream;
let upstreamA: MockUpstream;
let b: TestGateway;
let c: TestGateway;
let a: TestGateway;

const provider = (mock: MockUpstream, id: string, models: string[]) => ({ id, type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models, max_retries: 0 });

beforeAll(async () => {
  upstreamA = await startMockUpstream();
  upstreamB = await startMockUpstream();
  upstreamC = await startMockUpstream();
  b = await startTestGateway([provider(upstreamB, 'b-openai', ['gpt-4o', 'gpt-4o-mini'])], { mesh: mesh() });
  const bootstrap = b.gateway.mesh!.multiaddrs();
  c = await startTestGateway([provider(upstreamC, 'c-openai', ['gpt-4o'])], { mesh: mesh({ bootstrap }) });
  // A: a local provider only for "local-only", and one for gpt-4o-mini that will be made to fail.
  a = await startTestGateway([provider(upstreamA, 'a-openai', ['local-only', 'gpt-4o-mini'])], { mesh: mesh({ bootstrap }) });
  // Wait (bounded, failing on timeout) until A knows both peers' models.
  await vi.waitFor(() => expect(a.gateway.mesh!.knownModels().get('gpt-4o')?.length ?? 0).toBeGreaterThanOrEqual(2), { timeout: 15_000, interval: 100 });
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), c?.close()]);
  await Promise.all([upstreamA?.close(), upstreamB?.close(), upstreamC?.close()]);
});

const servedBy = (response: Response | { headers: Headers }) => response.headers.get('x-meshgate-served-by');

describe('a node with no provider for a model gets the answer from a peer', () => {
  it('OpenAI SDK, plain and streamed', async () => {
    const client = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'across the mesh' }] }).withResponse();
    expect(data.choices[0]!.message.content).toContain('says: across the mesh');
    expect([b.gateway.mesh!.peerId, c.gateway.mesh!.peerId]).toContain(servedBy(response));
    expect(response.headers.get('x-meshgate-provider')).toBe(`peer:${servedBy(response)}`);

    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'streamed across' }] });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage ??= chunk.usage;
    }
    expect(text).toContain('says: streamed across');
    expect(usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('Anthropic SDK, streamed (translated on the serving node)', async () => {
    const client = new Anthropic({ baseURL: a.url, apiKey: 'x', maxRetries: 0 });
    const final = await client.messages.stream({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'claude client over the mesh' }] }).finalMessage();
    expect(final.content.map((b) => (b.type === 'text' ? b.text : '')).join('')).toContain('says: claude client over the mesh');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it('records show which peer served the request', async () => {
    const before = a.outcomes.length;
    await fetch(`${a.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'who?' }] }) });
    const outcomes = await a.waitForOutcomes(before + 1);
    expect([b.gateway.mesh!.peerId, c.gateway.mesh!.peerId]).toContain(outcomes[before]!.peer);
  });
});

describe('failover to the mesh', () => {
  it("a body forwarded as the client spelled it (byte-order mark, whitespace, escapes) is served as parsed", async () => {
    const text = '\ufeff{ "model" : "gpt-4o",\n  "messages" : [ { "role" : "user", "content" : "caf\\u00e9 as sent" } ] }\n';
    const response = await fetch(`${a.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from(text, 'utf8') });
    expect(response.status).toBe(200);
    expect([b.gateway.mesh!.peerId, c.gateway.mesh!.peerId]).toContain(servedBy(response));
    const answer = (await response.json()) as OpenAI.ChatCompletion;
    expect(answer.choices[0]!.message.content).toContain('says: café as sent');
  });

  it('a node whose own provider fails is answered by a peer', async () => {
    upstreamA.setDefault({ kind: 'error', status: 500 });
    try {
      const response = await fetch(`${a.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'local fails' }] }),
      });
      expect(response.status).toBe(200);
      expect(servedBy(response)).toBe(b.gateway.mesh!.peerId);
      expect(response.headers.get('x-meshgate-attempts')).toBe('2');
      expect(upstreamA.requests.length).toBeGreaterThan(0);
    } finally {
      upstreamA.setDefault({ kind: 'ok' });
    }
  });

  it('a peer whose providers fail before the first byte is replaced by the next peer', async () => {
    upstreamB.setDefault({ kind: 'error', status: 503 });
    try {
      // Until B has been tried at least once, every answer must still come from C (bounded: 6 requests).
      for (let i = 0; i < 6 && upstreamB.requests.length === 0; i++) {
        const response = await fetch(`${a.url}/v1/chat/completions`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'next peer please' }] }),
        });
        expect(response.status).toBe(200);
        expect(servedBy(response)).toBe(c.gateway.mesh!.peerId);
      }
      expect(upstreamB.requests.length).toBeGreaterThan(0);
    } finally {
      upstreamB.reset();
    }
  });

  it('a stream that breaks on the serving peer after the first byte reaches the client as an error event', async () => {
    upstreamB.setDefault({ kind: 'fail_mid_stream', afterChunks: 3 });
    upstreamC.setDefault({ kind: 'fail_mid_stream', afterChunks: 3 });
    try {
      const client = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'a b c d e f g h' }] });
      const { received, error } = await readUntilError(stream);
      expect(received).toBeGreaterThan(0);
      expect(error).toBeInstanceOf(OpenAI.APIError);
    } finally {
      upstreamB.reset();
      upstreamC.reset();
    }
  });

  it('a node asked for a model nobody serves answers 404 after asking the mesh', async () => {
    const response = await fetch(`${a.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(response.status).toBe(404);
  });
});

describe('mesh status', () => {
  it('GET /v1/mesh and /health show this node and its peers', async () => {
    const status = (await (await fetch(`${a.url}/v1/mesh`)).json()) as { peerId: string; peers: Array<{ peerId: string; models: Array<{ id: string }> }> };
    expect(status.peerId).toBe(a.gateway.mesh!.peerId);
    expect(status.peers.map((p) => p.peerId).sort()).toEqual([b.gateway.mesh!.peerId, c.gateway.mesh!.peerId].sort());
    const health = (await (await fetch(`${a.url}/health`)).json()) as { mesh: { peer_id: string; peers: number } };
    expect(health.mesh).toMatchObject({ peer_id: a.gateway.mesh!.peerId, peers: 2 });
    const models = (await (await fetch(`${a.url}/v1/models`)).json()) as { data: Array<{ id: string; peers?: string[] }> };
    expect(models.data.find((m) => m.id === 'gpt-4o')!.peers!.length).toBe(2);
  });
});

describe('signed usage receipts', () => {
  it('both sides keep acknowledged receipts and their ledgers agree after a mixed load', async () => {
    const openai = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: a.url, apiKey: 'x', maxRetries: 0 });
    for (let i = 0; i < 3; i++) {
      await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `plain ${i}` }] });
      const s = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `stream ${i}` }] });
      for await (const _chunk of s) { /* drain */ }
      await anthropic.messages.stream({ model: 'gpt-4o', max_tokens: 30, messages: [{ role: 'user', content: `anthropic ${i}` }] }).finalMessage();
    }
    const ledgerA = a.gateway.ledger!;
    const peers = [b.gateway, c.gateway];
    await expect.poll(async () => {
      const served = await Promise.all(peers.map(async (g) => (await g.ledger!.summary()).find((p) => p.peer === a.gateway.mesh!.peerId)?.served.unacknowledgedMicros ?? 0));
      return served.every((u) => u === 0);
    }, { timeout: 10_000, interval: 100 }).toBe(true);
    const consumed = await ledgerA.summary();
    for (const g of peers) {
      const view = (await g.ledger!.summary()).find((p) => p.peer === a.gateway.mesh!.peerId);
      const mine = consumed.find((p) => p.peer === g.mesh!.peerId);
      if (!view && !mine) continue;
      expect(view!.served.totalMicros).toBe(mine!.consumed.totalMicros);
      expect(view!.served.receipts).toBe(mine!.consumed.receipts);
      expect(view!.served.lastSeq).toBe(mine!.consumed.lastSeq);
      expect(mine!.disputes).toBe(0);
    }
    expect(consumed.reduce((n, p) => n + p.consumed.receipts, 0)).toBeGreaterThanOrEqual(9);
    expect(consumed.reduce((n, p) => n + p.consumed.totalMicros, 0)).toBeGreaterThan(0);

    // Receipts export for settlement, admin key required.
    const admin = { authorization: `Bearer ${a.gateway.access.adminKey.secret.reveal()}` };
    const exported = (await (await fetch(`${a.url}/v1/mesh/receipts`, { headers: admin })).json()) as { data: Array<{ jws: string; ack: string | null }> };
    expect(exported.data.length).toBe(consumed.reduce((n, p) => n + p.consumed.receipts, 0));
    expect(exported.data.every((r) => r.ack)).toBe(true);
    const ledgerView = (await (await fetch(`${a.url}/v1/mesh/ledger`, { headers: admin })).json()) as { data: Array<{ balance_usd: number }> };
    expect(ledgerView.data.every((p) => p.balance_usd <= 0)).toBe(true);
  });

  it('a node that lost its receipts recovers them from its peer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-lost-'));
    const store = await Store.open(dir);
    try {
      const fresh = Ledger.open(store, a.gateway.mesh!.peerId, signingKeyFromRaw(a.gateway.mesh!.privateKeyBytes));
      const before = (await a.gateway.ledger!.summary()).find((p) => p.peer === b.gateway.mesh!.peerId);
      const reports = await reconcileWithPeer(ledgerTransportOver(a.gateway.mesh!), fresh, b.gateway.mesh!.peerId);
      const recovered = (await fresh.summary()).find((p) => p.peer === b.gateway.mesh!.peerId);
      expect(reports.every((r) => r.conflicts.length === 0)).toBe(true);
      expect(recovered?.consumed.receipts ?? 0).toBe(before?.consumed.receipts ?? 0);
      expect(recovered?.consumed.totalMicros ?? 0).toBe(before?.consumed.totalMicros ?? 0);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
