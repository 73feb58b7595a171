import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { USAGE_BOUND_SLACK } from '../../src/ledger/index.js';
import pino from 'pino';
import type { NodeRecord } from '../../src/mesh/index.js';
import { EXPLORATION_SHARE, PeerFinder, type PeerFinderOptions } from '../../src/mesh/peer-finder.js';
import { PeerScores } from '../../src/mesh/peer-scores.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { chunks, readText, TestMesh } from './mesh-nodes.js';

/**
 * Attack class "inflation": a serving peer that charges more than it served. B answers through an upstream that
 * reports five million completion tokens for the word "ok" (B's gateway then claims it honestly, in the body and in
 * a matching receipt), signs receipts for another model than the one asked for, or advertises a price of 0 so
 * that prompts go to it before they go to peers this node has measured. A serves nothing itself.
 */
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...extra });

const INFLATED = { prompt_tokens: 12, completion_tokens: 5_000_000, total_tokens: 5_000_012 };
/** A reasoning model's honest usage: 480 hidden reasoning tokens before the visible "ok". */
const REASONED = { prompt_tokens: 12, completion_tokens: 482, total_tokens: 494, completion_tokens_details: { reasoning_tokens: 480 } };
/** Hidden reasoning claimed far beyond any output limit. */
const OVERTHOUGHT = { prompt_tokens: 12, completion_tokens: 5_000_000, total_tokens: 5_000_012, completion_tokens_details: { reasoning_tokens: 4_999_998 } };

/** An OpenAI-compatible upstream that answers "ok" and reports INFLATED usage, plain or streamed. */
async function inflatingUpstream(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o', object: 'model', created: 1, owned_by: 'x' }] }));
      return;
    }
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const body = JSON.parse(text) as { stream?: boolean; messages: unknown[] };
      const base = { id: 'chatcmpl-1', created: 1, model: 'gpt-4o' };
      const asked = JSON.stringify(body.messages.at(-1) ?? '');
      const usage = asked.includes('overthink') ? OVERTHOUGHT : asked.includes('think') ? REASONED : INFLATED;
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          ...base, object: 'chat.completion', usage,
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        }));
        return;
      }
      const chunk = (extra: Record<string, unknown>) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...extra })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }));
      res.write(chunk({ choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: null }] }));
      res.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
      res.write(chunk({ choices: [], usage }));
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let upstream: Awaited<ReturnType<typeof inflatingUpstream>>;
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  upstream = await inflatingUpstream();
  b = await startTestGateway([{ id: 'b-openai', type: 'openai', base_url: upstream.url, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 }], { mesh: mesh() });
  a = await startTestGateway([], { mesh: mesh({ bootstrap: b.gateway.mesh!.multiaddrs(), reconcile_interval_seconds: 0 }) });
  await vi.waitFor(() => expect(a.gateway.mesh!.knownModels().has('gpt-4o')).toBe(true), { timeout: 15_000, interval: 100 });
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await upstream?.close();
});

const chat = (stream: boolean, content = 'say ok', extra: Record<string, unknown> = {}) =>
  fetch(`${a.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', stream, ...(stream ? { stream_options: { include_usage: true } } : {}), messages: [{ role: 'user', content }], ...extra }),
  });

/** A's copy of the receipt for request `requestId`, once settled (acknowledged or disputed). */
async function settled(requestId: string) {
  let found: Awaited<ReturnType<NonNullable<TestGateway['gateway']['ledger']>['list']>>[number] | undefined;
  await vi.waitFor(async () => {
    found = (await a.gateway.ledger!.list(b.gateway.mesh!.peerId)).find((r) => r.requestId === requestId && (r.ack || r.dispute));
    expect(found).toBeDefined();
  }, { timeout: 5_000, interval: 50 });
  return found!;
}

describe('a serving peer that claims far more usage than it served', () => {
  for (const stream of [false, true]) {
    it(`${stream ? 'streamed' : 'plain'}: the receipt is disputed as usage_exceeds_measured and the client is charged the bounded figure`, async () => {
      const before = a.outcomes.length;
      const response = await chat(stream);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('ok');
      const outcome = (await a.waitForOutcomes(before + 1))[before]!;
      expect(outcome.peer).toBe(b.gateway.mesh!.peerId);
      // Charged (quotas, records) at most the bound of what A measured: a few tokens of text, not five million.
      expect(outcome.usage!.outputTokens).toBeLessThanOrEqual(USAGE_BOUND_SLACK.output + 10);
      expect(outcome.usage!.inputTokens).toBe(INFLATED.prompt_tokens);

      const receipt = await settled(outcome.requestId);
      expect(receipt.ack).toBeUndefined();
      expect(receipt.dispute?.reason).toMatch(/^usage_exceeds_measured/);
      // B learns of the dispute: the receipt is out of its totals.
      await vi.waitFor(async () => {
        const held = (await b.gateway.ledger!.list(a.gateway.mesh!.peerId)).find((r) => r.requestId === outcome.requestId);
        expect(held?.dispute?.reason).toMatch(/^usage_exceeds_measured/);
      }, { timeout: 5_000, interval: 50 });
    });
  }
});

describe('reasoning a provider bills but does not return', () => {
  it('is acknowledged as far as the answer reports it and the request\'s output limit allows', async () => {
    const before = a.outcomes.length;
    const response = await chat(false, 'think, then say ok', { max_completion_tokens: 1_000 });
    expect(response.status).toBe(200);
    const outcome = (await a.waitForOutcomes(before + 1))[before]!;
    const receipt = await settled(outcome.requestId);
    expect(receipt.dispute).toBeUndefined();
    expect(receipt.ack).toBeDefined();
    expect(outcome.usage!.outputTokens).toBe(REASONED.completion_tokens);
  });

  it('with no reasoning count in the answer, is acknowledged up to the reasoning budget the request asked for', async () => {
    // An Anthropic client asks for extended thinking; the answer (translated on B) reports output tokens only.
    const before = a.outcomes.length;
    const response = await fetch(`${a.url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 4_096, thinking: { type: 'enabled', budget_tokens: 2_000 }, messages: [{ role: 'user', content: 'think, then say ok' }] }),
    });
    expect(response.status).toBe(200);
    const outcome = (await a.waitForOutcomes(before + 1))[before]!;
    const receipt = await settled(outcome.requestId);
    expect(receipt.dispute).toBeUndefined();
    expect(receipt.ack).toBeDefined();
  });

  it('is disputed beyond the request\'s output limit, and without a limit it gets no allowance', async () => {
    for (const [content, extra] of [['overthink, then say ok', { max_completion_tokens: 1_000 }], ['think, then say ok', {}]] as const) {
      const before = a.outcomes.length;
      expect((await chat(false, content, extra)).status).toBe(200);
      const outcome = (await a.waitForOutcomes(before + 1))[before]!;
      const receipt = await settled(outcome.requestId);
      expect(receipt.dispute?.reason).toMatch(/^usage_exceeds_measured/);
      expect(outcome.usage!.outputTokens).toBeLessThanOrEqual(('max_completion_tokens' in extra ? 1_000 : 0) + USAGE_BOUND_SLACK.output + 10);
    }
  });
});

describe('a serving peer that signs a receipt for another model', () => {
  it('is disputed as wrong_model', async () => {
    const ledger = b.gateway.ledger!;
    const issue = ledger.issue.bind(ledger);
    const spy = vi.spyOn(ledger, 'issue').mockImplementation((subject, requestId, _model, usage, price) => issue(subject, requestId, 'gpt-4o-premium', usage, price));
    try {
      const before = a.outcomes.length;
      expect((await chat(false)).status).toBe(200);
      const outcome = (await a.waitForOutcomes(before + 1))[before]!;
      const receipt = await settled(outcome.requestId);
      expect(receipt.model).toBe('gpt-4o-premium');
      expect(receipt.dispute?.reason).toMatch(/^wrong_model/);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('a peer that advertises a price of 0 to attract prompts', () => {
  const nodes = new TestMesh();
  afterAll(() => nodes.stopAll());

  it('ranks measured healthy peers first, then unmeasured ones (whatever their price), then measured failing ones', () => {
    const scores = new PeerScores({ banAfterFailures: 100, banBaseMs: 1_000, banMaxMs: 1_000, clock: Date.now });
    const finder = new PeerFinder({ selfId: 'self', scores, logger: pino({ level: 'silent' }) } as unknown as PeerFinderOptions);
    const record = (peerId: string, usd: number): NodeRecord => ({
      v: 1, peerId, addrs: [], models: [{ id: 'm', capabilities: ['chat'], price: { inputPerMTok: usd, outputPerMTok: usd } }],
      capacity: { maxConcurrent: 4, inFlight: 0 }, version: 't', seq: 1, issuedAt: Date.now(), expiresAt: Date.now() + 60_000,
    });
    const healthy = scores.begin('healthy');
    healthy.firstByte();
    healthy.succeeded();
    for (let i = 0; i < 3; i++) scores.begin('failing').failed();
    const order = finder.rank([record('failing', 0), record('free', 0), record('healthy', 50)], 'm').map((p) => p.peerId);
    // The first of twenty rankings explores nothing (at most 5% of them put an unmeasured peer first).
    expect(order).toEqual(['healthy', 'free', 'failing']);

    // Rankings with nothing to explore bank no explorations: a newcomer after many of them is not put first in a burst.
    for (let i = 0; i < 200; i++) finder.rank([record('healthy', 50)], 'm');
    const firsts = Array.from({ length: 40 }, () => finder.rank([record('healthy', 50), record('newcomer', 0)], 'm')[0]!.peerId);
    expect(firsts.filter((id) => id === 'newcomer').length).toBeLessThanOrEqual(Math.floor(41 * EXPLORATION_SHARE));
  });

  it('is ranked after a measured healthy peer, and put first in at most the exploration share of look-ups', async () => {
    const capacity = { maxConcurrent: 8, inFlight: 0 };
    const advert = (inputPerMTok: number, outputPerMTok: number) => ({ models: [{ id: 'm', capabilities: ['chat'], price: { inputPerMTok, outputPerMTok } }], capacity });
    const requester = await nodes.node();
    const honest = await nodes.node({ bootstrap: requester.multiaddrs() }, { beforeStart: (n) => n.setAdvertisement(advert(15, 75)) });
    const free = await nodes.node({ bootstrap: requester.multiaddrs() }, { beforeStart: (n) => n.setAdvertisement(advert(0, 0)) });
    await vi.waitFor(() => expect(requester.knownModels().get('m')?.length).toBe(2), { timeout: 15_000, interval: 50 });
    // Before any measurement, the free peer ranks first (price is all that tells them apart).
    expect((await requester.findPeersForModel('m')).map((p) => p.peerId)).toEqual([free.peerId, honest.peerId]);

    honest.setForwardHandler(async () => ({ head: { status: 200, headers: {} }, body: chunks('measured'), trailer: () => ({}) }));
    const frame = { id: 'req_measure', format: 'openai' as const, operation: 'chat' as const, model: 'm', stream: false, body: {}, hop: 1, visited: [], deadline: Date.now() + 10_000 };
    expect(await readText((await requester.forward(honest.peerId, frame, AbortSignal.timeout(10_000))).body)).toBe('measured');

    const firsts: string[] = [];
    for (let i = 0; i < 100; i++) firsts.push((await requester.findPeersForModel('m'))[0]!.peerId);
    const explored = firsts.filter((id) => id === free.peerId).length;
    expect(explored).toBeGreaterThan(0);
    expect(explored).toBeLessThanOrEqual(Math.floor(100 * EXPLORATION_SHARE));
    expect(firsts[0]).toBe(honest.peerId);
  });
});
