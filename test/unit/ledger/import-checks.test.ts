import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  AckBatcher, LEDGER_PAGE, channelId, costMicros, ledgerMessageHandler, receiptHash, reconcileWithPeer, ReceiptSettler, signReceipt, type LedgerTransport, type ReceiptPayload,
} from '../../../src/ledger/index.js';
import { ledgerParty } from './ledger-party.js';

const PRICE = { input: 2_500_000, output: 10_000_000, cached: 1_250_000 };
const USAGE = { input: 1_000, output: 500, cached: 400 };
const logger = pino({ level: 'silent' });

type Party = Awaited<ReturnType<typeof ledgerParty>>;

/** A receipt `server` signs by hand (a hostile issuer: any amounts it likes, chained onto `prev`). */
function forged(server: Party, client: Party, seq: number, prev: { hash: string | null; total: number }, fields: Partial<ReceiptPayload> = {}) {
  const usage = fields.usage ?? USAGE;
  const price = fields.price ?? PRICE;
  const cost = fields.cost ?? costMicros(usage, price);
  return signReceipt({ v: 1, iss: server.id, sub: client.id, ch: channelId(server.id, client.id), seq, rid: `r${seq}`, model: 'm', usage, price, cost, total: prev.total + cost, prev: prev.hash, iat: seq, ...fields }, server.signing);
}

/** Answers the client's ledger messages as `server`'s node would, from receipts the test chose. */
function servedBy(server: Party, client: Party, receipts: string[]): LedgerTransport {
  const handler = ledgerMessageHandler(server.ledger);
  return {
    request: async (_peer, message) => {
      if (message.type === 'fetch') return { ok: true, receipts: receipts.slice(message.after).map((jws) => ({ jws })) };
      if (message.type === 'heads') return { ok: true, heads: [{ channel: channelId(server.id, client.id), seq: receipts.length }] };
      return handler(message, client.id);
    },
  };
}

const claimed = async (client: Party) => (await client.ledger.summary())[0]?.consumed.claimedMicros ?? 0;

describe('receipts imported by reconciliation or gap-filling (protocol/receipts.md, "Reconciliation")', () => {
  it('refuses a receipt whose cost does not follow from its usage: zero usage at a cost of 9e12 never becomes a claim', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty();
    const bogus = await forged(server, client, 1, { hash: null, total: 0 }, { usage: { input: 0, output: 0, cached: 0 }, cost: 9e12 });
    const report = await client.ledger.importChannel(channelId(server.id, client.id), [{ jws: bogus }]);
    expect(report).toMatchObject({ imported: 0, conflicts: [{ seq: 1, reason: expect.stringMatching(/^wrong_cost/) }] });
    expect(await client.ledger.headSeq(channelId(server.id, client.id))).toBe(0);
    expect(await claimed(client)).toBe(0);
  });

  it('gap-filling before a new receipt applies the same check, so the receipt after the bogus one is disputed', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty();
    const bogus = await forged(server, client, 1, { hash: null, total: 0 }, { usage: { input: 0, output: 0, cached: 0 }, cost: 9e12 });
    const next = await forged(server, client, 2, { hash: receiptHash(bogus), total: 9e12 });
    const transport = servedBy(server, client, [bogus, next]);
    const disputes: string[] = [];
    const recording: LedgerTransport = { request: async (peer, message) => (message.type === 'dispute' && disputes.push(message.dispute), transport.request(peer, message)) };
    const acks = new AckBatcher(recording, logger, 60_000);
    await new ReceiptSettler({ transport: recording, ledger: client.ledger, logger, acks }).settle(server.id, 'r2', next, { usage: USAGE, price: PRICE });
    await acks.close();
    expect(disputes).toHaveLength(1);
    expect(await claimed(client)).toBe(0);
    expect((await client.ledger.summary())[0]!.consumed.totalMicros).toBe(0);
  });

  it('sends the acknowledgements still batched for a peer before a dispute to it, so the dispute is not superseded by them', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty();
    const honest = await forged(server, client, 1, { hash: null, total: 0 });
    const transport = servedBy(server, client, [honest]);
    const sent: string[] = [];
    const recording: LedgerTransport = { request: async (peer, message) => (sent.push(message.type), transport.request(peer, message)) };
    const acks = new AckBatcher(recording, logger, 60_000);
    const settler = new ReceiptSettler({ transport: recording, ledger: client.ledger, logger, acks });
    await settler.settle(server.id, 'r1', honest, { usage: USAGE, price: PRICE });
    expect(sent).toEqual([]);
    // The same receipt again, for another request: a replay, disputed while its acknowledgement still waits in its batch.
    await settler.settle(server.id, 'r2', honest, { usage: USAGE, price: PRICE });
    expect(sent).toEqual(['ack', 'dispute']);
    await acks.close();
    expect(sent).toEqual(['ack', 'dispute']);
  });

  it('checks a receipt only after the work queued in the turn that delivered it (where the answer is written) has run', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty();
    const first = await forged(server, client, 1, { hash: null, total: 0 });
    const receipt = await forged(server, client, 2, { hash: receiptHash(first), total: costMicros(USAGE, PRICE) });
    const transport = servedBy(server, client, [first, receipt]);
    const acks = new AckBatcher(transport, logger, 60_000);
    const settler = new ReceiptSettler({ transport, ledger: client.ledger, logger, acks });
    await settler.settle(server.id, 'r1', first, { usage: USAGE, price: PRICE }); // the channel's head is in memory now
    const order: string[] = [];
    const accept = client.ledger.accept.bind(client.ledger);
    client.ledger.accept = (...args) => (order.push('checked'), accept(...args));
    const settled = settler.settle(server.id, 'r2', receipt, { usage: USAGE, price: PRICE });
    // The pipeline's writing of the answer: a chain of microtasks after the trailer arrived.
    let chain = Promise.resolve();
    for (let i = 0; i < 50; i++) chain = chain.then(() => undefined);
    await chain.then(() => order.push('answered'));
    await settled;
    expect(order).toEqual(['answered', 'checked']);
    await acks.close();
  });

  it('refuses a receipt priced above what its issuer advertises for the model, and takes one at or below it', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty();
    const fair = await forged(server, client, 1, { hash: null, total: 0 });
    const fairCost = costMicros(USAGE, PRICE);
    const dear = await forged(server, client, 2, { hash: receiptHash(fair), total: fairCost }, { price: { ...PRICE, output: 1_000_000_000 } });
    const advertised = (peer: string, model: string) => (peer === server.id && model === 'm' ? PRICE : undefined);
    const reports = await reconcileWithPeer(servedBy(server, client, [fair, dear]), client.ledger, server.id, advertised);
    expect(reports[0]).toMatchObject({ imported: 1, conflicts: [{ seq: 2, reason: expect.stringMatching(/^wrong_price/) }] });
    expect(await claimed(client)).toBe(fairCost);
    // Where the price is not known (the peer's record does not list the model), the cost formula still applies.
    const elsewhere = await ledgerParty();
    const unknown = await reconcileWithPeer(servedBy(server, elsewhere, [await forged(server, elsewhere, 1, { hash: null, total: 0 }, { price: { ...PRICE, output: 1_000_000_000 } })]), elsewhere.ledger, server.id, () => undefined);
    expect(unknown[0]).toMatchObject({ imported: 1, conflicts: [] });
  });

  it('imports a bounded number of receipts this node never acknowledged: an issuer can sign as many claims as it likes', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty(undefined, { maxClaimsPerChannel: 2 });
    const receipts: string[] = [];
    let prev = { hash: null as string | null, total: 0 };
    for (let seq = 1; seq <= 4; seq++) {
      const jws = await forged(server, client, seq, prev, { usage: { input: 0, output: 0, cached: 0 } });
      receipts.push(jws);
      prev = { hash: receiptHash(jws), total: 0 };
    }
    const [report] = await reconcileWithPeer(servedBy(server, client, receipts), client.ledger, server.id);
    expect(report).toMatchObject({ imported: 2, conflicts: [{ seq: 3, reason: expect.stringMatching(/^claims_limit/) }] });
    expect(await client.ledger.headSeq(channelId(server.id, client.id))).toBe(2);
  });

  it('takes at most one page of receipts from a fetch answer, whatever the peer sends', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty();
    // A peer answering a fetch with 2,000 different receipts, all for sequence number 1: each costs a signature check.
    const page = await Promise.all(Array.from({ length: 2_000 }, (_, i) => forged(server, client, 1, { hash: null, total: 0 }, { rid: `copy-${i}` })));
    const transport: LedgerTransport = {
      request: async (_peer, message) => {
        if (message.type === 'heads') return { ok: true, heads: [{ channel: channelId(server.id, client.id), seq: 1 }] };
        if (message.type === 'fetch') return { ok: true, receipts: page.map((jws) => ({ jws })) };
        return { ok: true, acks: [] };
      },
    };
    const [report] = await reconcileWithPeer(transport, client.ledger, server.id);
    expect(report!.imported).toBe(1);
    // The first is imported, the rest of the page contradicts it; nothing beyond the page is even looked at.
    expect(report!.conflicts).toHaveLength(LEDGER_PAGE - 1);
  });
});

describe('receipts of back-to-back forwards', () => {
  it('are settled in the order they arrived: the second does not see the first, still being checked, as a gap to fetch', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty();
    const first = await server.ledger.issue(client.id, 'r1', 'm', USAGE, PRICE);
    const second = await server.ledger.issue(client.id, 'r2', 'm', USAGE, PRICE);
    const asked: string[] = [];
    const transport = servedBy(server, client, [first, second]);
    const recording: LedgerTransport = { request: async (peer, message) => (asked.push(message.type), transport.request(peer, message)) };
    const acks = new AckBatcher(recording, logger, 60_000);
    const settler = new ReceiptSettler({ transport: recording, ledger: client.ledger, logger, acks });
    // The second trailer arrives before the first receipt is stored, as it does for a client sending one request after another.
    await Promise.all([settler.settle(server.id, 'r1', first, { usage: USAGE, price: PRICE }), settler.settle(server.id, 'r2', second, { usage: USAGE, price: PRICE })]);
    await acks.close();
    expect(asked.filter((type) => type === 'fetch')).toEqual([]);
    expect(asked.filter((type) => type === 'dispute')).toEqual([]);
    expect((await client.ledger.summary())[0]!.consumed.totalMicros).toBe(2 * costMicros(USAGE, PRICE));
  });

  it('drain() waits for every settlement the node queued, so a stop sends the acknowledgements of receipts still being checked', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty();
    const receipts = [await server.ledger.issue(client.id, 'r1', 'm', USAGE, PRICE), await server.ledger.issue(client.id, 'r2', 'm', USAGE, PRICE)];
    const acked: string[] = [];
    const transport = servedBy(server, client, receipts);
    const recording: LedgerTransport = { request: async (peer, message) => (message.type === 'ack' && acked.push(...message.acks), transport.request(peer, message)) };
    const acks = new AckBatcher(recording, logger, 60_000);
    const settler = new ReceiptSettler({ transport: recording, ledger: client.ledger, logger, acks });
    // Queued and not awaited, as the forwarder does when a trailer arrives; then the node stops.
    void settler.settle(server.id, 'r1', receipts[0]!, { usage: USAGE, price: PRICE });
    void settler.settle(server.id, 'r2', receipts[1]!, { usage: USAGE, price: PRICE });
    await settler.drain();
    await acks.close();
    expect(acked).toHaveLength(2);
  });

});
