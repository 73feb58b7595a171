import { describe, expect, it, vi } from 'vitest';
import { Ledger, channelId, costMicros, ledgerMessageHandler, receiptHash, reconcileWithPeer, signAck, signDispute, signReceipt } from '../../../src/ledger/index.js';
import type { Store } from '../../../src/store/index.js';
import { ledgerParty } from './ledger-party.js';

const PRICE = { input: 2_500_000, output: 10_000_000, cached: 1_250_000 };
const USAGE = { input: 1_000, output: 500, cached: 400 };
const COST = costMicros(USAGE, PRICE);

type Party = Awaited<ReturnType<typeof ledgerParty>>;

/** `n` receipts from `server` to `client`, each accepted by the client; acknowledged at the server when `ack`. */
async function chain(server: Party, client: Party, n: number, ack: boolean): Promise<string[]> {
  const receipts: string[] = [];
  for (let i = 1; i <= n; i++) {
    const jws = await server.ledger.issue(client.id, `r${i}`, 'm', USAGE, PRICE);
    const result = await client.ledger.accept(jws, server.id, `r${i}`, {});
    if (!result.accepted) throw new Error(`receipt ${i} refused: ${result.reason}`);
    if (ack) await server.ledger.recordAck(result.ack, client.id);
    receipts.push(jws);
  }
  return receipts;
}

/** A dispute the client signs of receipt `seq` (hash `receipt`), with its own reason and time. */
const disputeBy = (client: Party, server: Party, seq: number, receipt: string | null, iat = Date.now(), reason = 'wrong_request: test') =>
  signDispute({ v: 1, ch: channelId(server.id, client.id), seq, rid: `r${seq}`, receipt, reason, iat }, client.signing, client.id);

const disputesAt = async (ledger: Ledger) => (await ledger.summary()).reduce((n, p) => n + p.disputes, 0);

describe('disputes a node keeps (protocol/receipts.md, "Bounds")', () => {
  it('refuses a dispute that names no receipt this node holds, and stores nothing for it', async () => {
    const server = await party();
    const client = await party();
    const [first] = await chain(server, client, 1, false);
    const refusals = [
      await disputeBy(client, server, 7, receiptHash(first!)), // a sequence number never issued
      await disputeBy(client, server, 1, receiptHash(`${first}x`)), // held seq, but not that receipt
      await disputeBy(client, server, 1, null), // names no receipt at all
    ];
    for (const dispute of refusals) await expect(server.ledger.recordDispute(dispute, client.id)).rejects.toMatchObject({ reason: 'unknown' });
    expect(await disputesAt(server.ledger)).toBe(0);
    expect((await server.ledger.summary())[0]!.served.totalMicros).toBe(COST);
  });

  it('keeps one dispute per (channel, seq): hundreds of distinct signed disputes of one receipt count once', async () => {
    const server = await party();
    const client = await party();
    const [first] = await chain(server, client, 1, true);
    for (let i = 0; i < 300; i++) await server.ledger.recordDispute(await disputeBy(client, server, 1, receiptHash(first!), 1_000 + i, `reason ${i}`), client.id);
    const [view] = await server.ledger.summary();
    expect(view).toMatchObject({ disputes: 1, served: { receipts: 1, totalMicros: COST, unacknowledgedMicros: 0 } });
  });

  it('caps the noted disputes of a channel and refuses the ones beyond', async () => {
    const server = await ledgerParty(undefined, { maxNotedPerChannel: 3 });
    const client = await party();
    const receipts = await chain(server, client, 5, true);
    for (const [i, jws] of receipts.slice(0, 3).entries()) expect(await server.ledger.recordDispute(await disputeBy(client, server, i + 1, receiptHash(jws)), client.id)).toBe(true);
    await expect(server.ledger.recordDispute(await disputeBy(client, server, 4, receiptHash(receipts[3]!)), client.id)).rejects.toMatchObject({ reason: 'limit' });
    expect(await disputesAt(server.ledger)).toBe(3);
  });

  it('bounds what a requester keeps of the receipts it refuses too: one per (channel, seq)', async () => {
    const server = await party();
    const client = await party();
    const ch = channelId(server.id, client.id);
    // A hostile issuer answers 20 requests with 20 different receipts, all claiming sequence number 1, all for another request.
    for (let i = 0; i < 20; i++) {
      const jws = await signReceipt({ v: 1, iss: server.id, sub: client.id, ch, seq: 1, rid: `bogus-${i}`, model: 'm', usage: USAGE, price: PRICE, cost: COST, total: COST, prev: null, iat: i }, server.signing);
      expect(await client.ledger.accept(jws, server.id, `r${i}`, {})).toMatchObject({ accepted: false, reason: expect.stringMatching(/^wrong_request/) });
    }
    expect(await disputesAt(client.ledger)).toBe(1);
    expect((await client.ledger.list()).length).toBe(1);
  });

  it('summary() reads the figures kept per channel, not the receipts', async () => {
    const server = await party();
    const client = await party();
    await chain(server, client, 3, true);
    const receipts = (server.ledger as unknown as { receipts: { values: () => unknown; iterator: () => unknown } }).receipts;
    const values = vi.spyOn(receipts, 'values');
    const iterator = vi.spyOn(receipts, 'iterator');
    expect((await server.ledger.summary())[0]).toMatchObject({ served: { receipts: 3, totalMicros: 3 * COST, lastSeq: 3, unacknowledgedMicros: 0 } });
    expect(values).not.toHaveBeenCalled();
    expect(iterator).not.toHaveBeenCalled();
  });

  it('keeps figures that match a recount from the stored receipts, and builds them once for older data', async () => {
    const server = await party();
    const client = await party();
    const receipts = await chain(server, client, 4, false);
    const accepted = await client.ledger.accept(await server.ledger.issue(client.id, 'r5', 'm', USAGE, PRICE), server.id, 'r5', {});
    if (accepted.accepted) await server.ledger.recordAck(accepted.ack, client.id);
    await server.ledger.recordDispute(await disputeBy(client, server, 2, receiptHash(receipts[1]!)), client.id);
    await server.ledger.recordAck(await signAck(receipts[0]!, client.signing, client.id), client.id);
    const live = await server.ledger.summary();
    // A database written before the figures existed: they are computed from the receipts on first use.
    await forgetFigures(server.store);
    const recounted = Ledger.open(server.store, server.id, server.signing);
    expect(await recounted.summary()).toEqual(live);
    expect(live[0]).toMatchObject({ disputes: 1, served: { receipts: 4, totalMicros: 4 * COST, unacknowledgedMicros: 2 * COST } });
    expect(await recounted.unacknowledged(client.id)).toBe(3 * COST); // the disputed receipt is still owed for the credit limit
  });
});

/** Receipt 1 from a server to a client, which the client disputed (it named another request) at the server. */
async function disputedReceipt() {
  const server = await party();
  const client = await party();
  const receipt = await server.ledger.issue(client.id, 'r1', 'm', USAGE, PRICE);
  const refused = await client.ledger.accept(receipt, server.id, 'not-r1', {});
  if (refused.accepted) throw new Error('expected a dispute');
  await server.ledger.recordDispute(refused.dispute, client.id);
  return { server, client, receipt };
}

describe('an acknowledgement after a dispute', () => {
  it('overrides the requester\'s own earlier dispute: the receipt is back in the totals and no longer counts as disputed', async () => {
    const { server, client, receipt } = await disputedReceipt();
    expect((await server.ledger.summary())[0]).toMatchObject({ disputes: 1, served: { receipts: 0, totalMicros: 0 } });
    // The requester signs for it after all (its operator settled the matter, or its own check was wrong).
    expect(await server.ledger.recordAck(await signAck(receipt, client.signing, client.id), client.id)).toBe(true);
    expect((await server.ledger.summary())[0]).toMatchObject({ disputes: 0, served: { receipts: 1, totalMicros: COST, unacknowledgedMicros: 0 }, balanceMicros: COST });
    expect(await server.ledger.unacknowledged(client.id)).toBe(0);
    const [stored] = await server.ledger.list();
    expect(stored).toMatchObject({ ack: expect.any(String), supersededDispute: { reason: expect.stringMatching(/^wrong_request/) } });
    expect(stored!.dispute).toBeUndefined();
    // And a dispute after the acknowledgement changes nothing (it cannot be taken back).
    await server.ledger.recordDispute(await disputeBy(client, server, 1, receiptHash(receipt)), client.id);
    expect((await server.ledger.summary())[0]).toMatchObject({ disputes: 1, served: { receipts: 1, totalMicros: COST } });
  });
});

describe('an acknowledgement after a dispute, through reconciliation', () => {
  it('is fetched for a disputed receipt too, and overrides the dispute', async () => {
    const { server, client, receipt } = await disputedReceipt();
    // The subject comes to hold an acknowledgement of it after all (reconciliation imported it, the trailer followed).
    expect((await client.ledger.importChannel(channelId(server.id, client.id), await server.ledger.receiptsAfter(channelId(server.id, client.id), 0))).imported).toBe(1);
    expect(await client.ledger.accept(receipt, server.id, 'r1', {})).toMatchObject({ accepted: true });
    const handler = ledgerMessageHandler(client.ledger);
    const reports = await reconcileWithPeer({ request: async (_peer, message) => handler(message, server.id) }, server.ledger, client.id);
    expect(reports).toMatchObject([{ acknowledged: 1, conflicts: [] }]);
    expect((await server.ledger.summary())[0]).toMatchObject({ disputes: 0, served: { receipts: 1, totalMicros: COST, unacknowledgedMicros: 0 } });
  });
});

const party = () => ledgerParty();

/** Removes the per-channel figures and their version marker, as in a database from before they existed. */
async function forgetFigures(store: Store): Promise<void> {
  await store.sublevel('channel-stats').clear();
  await store.sublevel('ledger-meta').clear();
}
