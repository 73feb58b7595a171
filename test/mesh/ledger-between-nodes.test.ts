import { randomBytes } from 'node:crypto';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Gateway } from '../../src/gateway/gateway.js';
import { LEDGER_PROTOCOL, Ledger, RECEIPT_JOURNAL_DIR } from '../../src/ledger/index.js';
import { Store } from '../../src/store/index.js';
import { signReceipt, signingKeyFromRaw, type ReceiptPayload } from '../../src/ledger/index.js';
import type { MeshNode } from '../../src/mesh/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Two whole gateways on loopback: A serves nothing itself, B serves gpt-4o with a credit limit smaller than one
 * receipt. A's acknowledgements are lost in transit (its ledger messages of type "ack" fail), so B sees A's debt grow
 * until reconciliation brings the acknowledgements A holds over to B.
 */
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...extra });

async function pair(upstream: MockUpstream, serverMesh: Record<string, unknown>): Promise<[TestGateway, TestGateway]> {
  const b = await startTestGateway([{ id: 'b-openai', type: 'openai', base_url: upstream.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 }], {
    mesh: mesh({ credit_limit_usd: 0.000001, ...serverMesh }),
  });
  const a = await startTestGateway([], { mesh: mesh({ bootstrap: b.gateway.mesh!.multiaddrs(), reconcile_interval_seconds: 0 }) });
  await vi.waitFor(() => expect(a.gateway.mesh!.knownModels().has('gpt-4o')).toBe(true), { timeout: 15_000, interval: 100 });
  return [a, b];
}

/**
 * Makes `node` lose every acknowledgement it sends (as a dropped connection would); other messages go through.
 * `restore()` waits until `count` acknowledgements were lost, so none slips through after it.
 */
function loseAcks(node: MeshNode) {
  const send = node.sendMessage.bind(node);
  let lost = 0;
  const spy = vi.spyOn(node, 'sendMessage').mockImplementation(async (peerId, protocol, message, timeoutMs) => {
    if (protocol === LEDGER_PROTOCOL && (message as { type?: string }).type === 'ack') {
      lost++;
      throw new Error('connection reset (simulated)');
    }
    return send(peerId, protocol, message, timeoutMs);
  });
  return {
    async restore(count: number) {
      await expect.poll(() => lost, { timeout: 5_000, interval: 20 }).toBe(count);
      spy.mockRestore();
    },
  };
}

const ask = (a: TestGateway, content: string) =>
  fetch(`${a.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }) });

const unacknowledged = async (server: TestGateway, client: TestGateway) =>
  (await server.gateway.ledger!.summary()).find((p) => p.peer === client.gateway.mesh!.peerId)?.served.unacknowledgedMicros ?? 0;

/** A fresh pair for one describe block, closed after it; `nodes.a` / `nodes.b` once started. */
function pairFor(serverMesh: Record<string, unknown>) {
  const nodes = {} as { a: TestGateway; b: TestGateway };
  beforeAll(async () => {
    [nodes.a, nodes.b] = await pair(upstream, serverMesh);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([nodes.a?.close(), nodes.b?.close()]);
  });
  return nodes;
}

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

describe('receipts a requester holds back for its batched write', () => {
  it('reach its store when the node stops right after the answer (its ledger, opened again, holds them acknowledged)', async () => {
    const [a, b] = await pair(upstream, { credit_limit_usd: 100 });
    try {
      expect((await ask(a, 'just before stopping')).status).toBe(200);
      const dir = a.gateway.config.storage.dir;
      await a.gateway.close();
      const store = await Store.open(dir);
      try {
        const held = await Ledger.open(store, a.gateway.mesh!.peerId, signingKeyFromRaw(randomBytes(32))).list();
        expect(held).toEqual([expect.objectContaining({ issuer: b.gateway.mesh!.peerId, subject: a.gateway.mesh!.peerId, seq: 1, ack: expect.any(String) })]);
      } finally {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      await b.close();
    }
  }, 60_000);
});

describe('receipts a serving node journals before their trailer', () => {
  it('reach its store by its stop, and one a crash left only in its journal joins its chain when it starts again', async () => {
    const [a, b] = await pair(upstream, { credit_limit_usd: 100 });
    const dir = b.gateway.config.storage.dir;
    const [serving, asking] = [b.gateway.mesh!.peerId, a.gateway.mesh!.peerId];
    const signing = signingKeyFromRaw(b.gateway.mesh!.privateKeyBytes);
    let restarted: Gateway | undefined;
    try {
      expect((await ask(a, 'served once')).status).toBe(200);
      await b.gateway.close();
      await expect(readdir(join(dir, RECEIPT_JOURNAL_DIR))).resolves.toEqual([]);
      const store = await Store.open(dir);
      const held = await Ledger.open(store, serving, signing).list().finally(() => store.close());
      expect(held).toEqual([expect.objectContaining({ issuer: serving, subject: asking, seq: 1 })]);

      // The node died right after a second trailer left, before the batch that would have written its receipt.
      const first = JSON.parse(Buffer.from(held[0]!.jws.split('.')[1]!, 'base64url').toString()) as ReceiptPayload;
      const lost = await signReceipt({ ...first, seq: 2, rid: 'req-lost-in-the-crash', prev: held[0]!.hash, total: first.total + first.cost, iat: first.iat + 1 }, signing);
      await writeFile(join(dir, RECEIPT_JOURNAL_DIR, '3.log'), `${lost}\n`);
      restarted = await Gateway.start(b.gateway.config, { logger: pino({ level: 'silent' }) });
      expect((await restarted.ledger!.summary()).find((p) => p.peer === asking)?.served).toMatchObject({ receipts: 2, lastSeq: 2, totalMicros: first.total + first.cost });
      await expect(readdir(join(dir, RECEIPT_JOURNAL_DIR))).resolves.toEqual([]);
    } finally {
      await restarted?.close();
      await rm(dir, { recursive: true, force: true });
      await a.close();
    }
  }, 60_000);
});

describe('credit limit between two nodes', () => {
  const nodes = pairFor({ reconcile_interval_seconds: 0 });

  it('stops serving a peer whose acknowledgements are missing, and resumes once reconciliation brings them', async () => {
    const { a, b } = nodes;
    const lost = loseAcks(a.gateway.mesh!);
    const first = await ask(a, 'first, acknowledgement lost');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-meshgate-served-by')).toBe(b.gateway.mesh!.peerId);
    // A accepted and countersigned the receipt, but B never heard of it.
    await expect.poll(() => unacknowledged(b, a), { timeout: 5_000, interval: 50 }).toBeGreaterThan(1);
    const consumed = async () => (await a.gateway.ledger!.summary()).find((p) => p.peer === b.gateway.mesh!.peerId)?.consumed.receipts ?? 0;
    await expect.poll(consumed, { timeout: 5_000, interval: 50 }).toBe(1);

    // Over B's credit limit: B refuses A (402), and A, with no other peer, tells its client why.
    const refused = await ask(a, 'second, refused');
    expect(refused.status).toBe(502);
    const error = ((await refused.json()) as { error: { message: string } }).error;
    expect(error.message).toContain('402');
    expect(error.message).toMatch(/unacknowledged receipts, over this node's credit limit/);
    await lost.restore(1);

    // The operator (or the next automatic round) reconciles: B fetches the acknowledgement A holds.
    const admin = { authorization: `Bearer ${b.gateway.access.adminKey.secret.reveal()}`, 'content-type': 'application/json' };
    const reconciled = await fetch(`${b.url}/v1/mesh/reconcile`, { method: 'POST', headers: admin, body: JSON.stringify({ peer: a.gateway.mesh!.peerId }) });
    expect(reconciled.status).toBe(200);
    const report = ((await reconciled.json()) as { data: Array<{ peer: string; acknowledged: number; imported: number; conflicts: unknown[]; error?: string }> }).data;
    expect(report).toEqual([expect.objectContaining({ peer: a.gateway.mesh!.peerId, acknowledged: 1, imported: 0, conflicts: [] })]);
    expect(report[0]!.error).toBeUndefined();
    expect(await unacknowledged(b, a)).toBe(0);

    const ledger = (await (await fetch(`${b.url}/v1/mesh/ledger`, { headers: admin })).json()) as { data: Array<{ peer: string; served: { unacknowledged_usd: number }; last_reconciliation: { acknowledged: number } | null }> };
    const row = ledger.data.find((p) => p.peer === a.gateway.mesh!.peerId)!;
    expect(row.served.unacknowledged_usd).toBe(0);
    expect(row.last_reconciliation?.acknowledged).toBe(1);

    // Service resumes, and this time the acknowledgement arrives by itself.
    const third = await ask(a, 'third, served again');
    expect(third.status).toBe(200);
    expect(third.headers.get('x-meshgate-served-by')).toBe(b.gateway.mesh!.peerId);
    await expect.poll(() => unacknowledged(b, a), { timeout: 5_000, interval: 50 }).toBe(0);
  });

  it('answers a bad reconcile request with 400 and asks for the admin key', async () => {
    const { b } = nodes;
    const admin = { authorization: `Bearer ${b.gateway.access.adminKey.secret.reveal()}`, 'content-type': 'application/json' };
    const bad = await fetch(`${b.url}/v1/mesh/reconcile`, { method: 'POST', headers: admin, body: JSON.stringify({ peer: 7 }) });
    expect(bad.status).toBe(400);
    const anonymous = await fetch(`${b.url}/v1/mesh/reconcile`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
  });
});

describe('automatic reconciliation', () => {
  const nodes = pairFor({ reconcile_interval_seconds: 1 });

  it('brings lost acknowledgements over on its own, so the peer is served again', async () => {
    const { a, b } = nodes;
    const lost = loseAcks(a.gateway.mesh!);
    const client = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'streamed, acknowledgement lost' }] });
    for await (const _chunk of stream) { /* drain */ }
    await lost.restore(1);
    // Within a few rounds of the 1 s interval B has the acknowledgement, without anyone asking.
    await expect.poll(async () => (await a.gateway.ledger!.summary()).find((p) => p.peer === b.gateway.mesh!.peerId)?.consumed.receipts ?? 0, { timeout: 5_000, interval: 50 }).toBe(1);
    await expect.poll(() => unacknowledged(b, a), { timeout: 10_000, interval: 100 }).toBe(0);
    expect(b.gateway.reconciler!.results().get(a.gateway.mesh!.peerId)).toMatchObject({ conflicts: [] });
    const again = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'served again' }] });
    expect(again.choices[0]!.message.content).toContain('served again');
  });
});

describe('a receipt the requesting node lost', () => {
  const nodes = pairFor({ credit_limit_usd: undefined, reconcile_interval_seconds: 0 });

  it('is fetched from the serving peer when the next receipt shows the gap, so the next one is not disputed', async () => {
    const { a, b } = nodes;
    // A "crashes" before storing the first receipt: it never accepts nor acknowledges it.
    const accept = vi.spyOn(a.gateway.ledger!, 'accept').mockRejectedValueOnce(new Error('process died before storing the receipt'));
    expect((await ask(a, 'receipt lost on the way in')).status).toBe(200);
    await expect.poll(() => accept.mock.calls.length, { timeout: 5_000, interval: 20 }).toBe(1);
    expect((await ask(a, 'next receipt, sequence 2')).status).toBe(200);

    const consumed = async () => (await a.gateway.ledger!.summary()).find((p) => p.peer === b.gateway.mesh!.peerId);
    // Receipt 2 is acknowledged; receipt 1 is in A's chain but only as B's claim (A never checked it), outside A's
    // totals — an acknowledgement signs one receipt's cost, so it cannot be used to vouch for receipt 1.
    await expect.poll(async () => (await consumed())?.consumed.receipts, { timeout: 5_000, interval: 50 }).toBe(1);
    expect((await consumed())!.consumed.claimedMicros).toBeGreaterThan(0);
    expect((await consumed())!.consumed.lastSeq).toBe(2);
    expect((await consumed())!.disputes).toBe(0);
    // On B: receipt 2 acknowledged; receipt 1 (never checked by A) stays unacknowledged, for the operators to settle.
    const served = async () => (await b.gateway.ledger!.summary()).find((p) => p.peer === a.gateway.mesh!.peerId)!;
    await expect.poll(async () => (await b.gateway.ledger!.openReceipts(a.gateway.mesh!.peerId)).map((r) => r.seq), { timeout: 5_000, interval: 50 }).toEqual([1]);
    expect((await served()).disputes).toBe(0);
    accept.mockRestore();
  });
});

describe('receipts a peer gets wrong, over the real forward path', () => {
  const nodes = pairFor({ credit_limit_usd: undefined, reconcile_interval_seconds: 0 });

  it('disputes tampered, replayed and out-of-order receipts; both sides keep the dispute and the honest chain', async () => {
    const { a, b } = nodes;
    const servedBy = b.gateway.mesh!.peerId;
    const consumed = async () => (await a.gateway.ledger!.summary()).find((p) => p.peer === servedBy);
    expect((await ask(a, 'an honest request first')).status).toBe(200);
    await expect.poll(async () => (await consumed())?.consumed.receipts, { timeout: 5_000, interval: 50 }).toBe(1);
    const honest = (await a.gateway.ledger!.list(servedBy))[0]!.jws;

    const ledgerB = b.gateway.ledger!;
    const issue = ledgerB.issue.bind(ledgerB);
    const key = signingKeyFromRaw(b.gateway.mesh!.privateKeyBytes);
    const decode = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as ReceiptPayload;
    const spy = vi.spyOn(ledgerB, 'issue');
    // Tampered: the cost changed after signing.
    spy.mockImplementationOnce(async (...args) => {
      const genuine = await issue(...args);
      const [h, , s] = genuine.split('.');
      const p = decode(genuine);
      return `${h}.${Buffer.from(JSON.stringify({ ...p, cost: p.cost + 1_000, total: p.total + 1_000 })).toString('base64url')}.${s}`;
    });
    // Replayed: the earlier, already acknowledged receipt sent again for a new request.
    spy.mockImplementationOnce(async () => honest);
    // Out of order: validly signed, but five sequence numbers ahead of anything B issued.
    spy.mockImplementationOnce(async (...args) => {
      const p = decode(await issue(...args));
      return signReceipt({ ...p, seq: p.seq + 5 }, key);
    });
    for (const content of ['tampered', 'replayed', 'out of order']) expect((await ask(a, content)).status).toBe(200);
    spy.mockRestore();

    // A refused all three and keeps each. B keeps only the dispute that names a receipt it holds (the replayed one,
    // as a noted dispute); those of receipts it never issued in that form are refused, not stored.
    await expect.poll(async () => (await consumed())?.disputes, { timeout: 5_000, interval: 50 }).toBe(3);
    await expect.poll(async () => (await ledgerB.summary()).find((p) => p.peer === a.gateway.mesh!.peerId)?.disputes, { timeout: 5_000, interval: 50 }).toBe(1);
    // The honest receipt stays acknowledged on both sides: a dispute of its replay does not undo the countersignature.
    // (A's acknowledgements reach B in batches, up to ACK_BATCH_MS after the answer: wait for the first one's.)
    const bView = async () => (await ledgerB.list(a.gateway.mesh!.peerId)).find((r) => r.seq === 1)!;
    await expect.poll(async () => Boolean((await bView()).ack), { timeout: 5_000, interval: 50 }).toBe(true);
    expect((await bView()).dispute).toBeUndefined();
    // An honest request afterwards is accepted: A fetches the genuine receipts it never got (the gap) first.
    expect((await ask(a, 'honest again')).status).toBe(200);
    await expect.poll(async () => (await ledgerB.openReceipts(a.gateway.mesh!.peerId)).length, { timeout: 5_000, interval: 50 }).toBeLessThanOrEqual(3);
    const heads = async (g: TestGateway) => (await g.gateway.ledger!.channelHeads()).find((h) => h.channel === `${servedBy}>${a.gateway.mesh!.peerId}`);
    await expect.poll(async () => (await heads(a))?.seq, { timeout: 5_000, interval: 50 }).toBe((await heads(b))?.seq);
    expect((await heads(a))?.hash).toBe((await heads(b))?.hash);
  });
});
