import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  DEFERRED_WRITE_MS, DISPUTE_TYP, Ledger, USAGE_BOUND_FACTOR, USAGE_BOUND_SLACK, boundedUsage, channelId, costMicros, receiptHash, runReceiptsCommand, signDispute, signReceipt, usageBound,
  type ReceiptPayload,
} from '../../../src/ledger/index.js';
import { signCompact } from '../../../src/ledger/compact-jws.js';
import { respellLastCharacter } from '../../helpers/base64url.js';
import { ledgerParty, tempDir, tempStore } from './ledger-party.js';

const party = ledgerParty;

const PRICE = { input: 2_500_000, output: 10_000_000, cached: 1_250_000 }; // $2.50 / $10 / $1.25 per MTok
const USAGE = { input: 1_000, output: 500, cached: 400 };

describe('receipts between two nodes', () => {
  it('issues, verifies and acknowledges a chain of receipts; both ledgers agree', async () => {
    const server = await party();
    const client = await party();
    for (let i = 1; i <= 3; i++) {
      const jws = await server.ledger.issue(client.id, `req-${i}`, 'gpt-4o', USAGE, PRICE);
      const result = await client.ledger.accept(jws, server.id, `req-${i}`, { usage: USAGE, price: PRICE });
      expect(result.accepted).toBe(true);
      if (result.accepted) await server.ledger.recordAck(result.ack);
    }
    const cost = costMicros(USAGE, PRICE);
    expect(cost).toBe(Math.round((600 * 2.5 + 400 * 1.25 + 500 * 10)));
    const [served] = await server.ledger.summary();
    const [consumed] = await client.ledger.summary();
    expect(served).toMatchObject({ peer: client.id, served: { receipts: 3, totalMicros: 3 * cost, lastSeq: 3, unacknowledgedMicros: 0 }, balanceMicros: 3 * cost });
    expect(consumed).toMatchObject({ peer: server.id, consumed: { receipts: 3, totalMicros: 3 * cost, lastSeq: 3 }, balanceMicros: -3 * cost });
  });

  it('disputes tampered, replayed, out-of-order, wrong-signer, mispriced and overstated receipts', async () => {
    const server = await party();
    const client = await party();
    const mallory = await party();
    const first = await server.ledger.issue(client.id, 'r1', 'gpt-4o', USAGE, PRICE);
    const second = await server.ledger.issue(client.id, 'r2', 'gpt-4o', USAGE, PRICE);

    const [h, p, s] = first.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as ReceiptPayload;
    const tampered = [h, Buffer.from(JSON.stringify({ ...payload, cost: 1 })).toString('base64url'), s].join('.');
    expect(await client.ledger.accept(tampered, server.id, 'r1', {})).toMatchObject({ accepted: false, reason: expect.stringMatching(/^bad_signature/) });
    expect(await client.ledger.accept(second, server.id, 'r2', {})).toMatchObject({ accepted: false, reason: expect.stringMatching(/^out_of_order/) });
    expect(await client.ledger.accept(first, server.id, 'r1', { usage: USAGE })).toMatchObject({ accepted: true });
    expect(await client.ledger.accept(first, server.id, 'r1', {})).toMatchObject({ accepted: false, reason: expect.stringMatching(/^replayed/) });

    // Signed by someone else but claiming to be the server.
    const forged = await signReceipt({ ...payload, seq: 2, rid: 'r2', prev: null }, mallory.signing);
    expect(await client.ledger.accept(forged, server.id, 'r2', {})).toMatchObject({ accepted: false, reason: expect.stringMatching(/^(wrong_signer|bad_signature)/) });
    expect(await client.ledger.accept(second, server.id, 'r2', { price: { ...PRICE, output: 1 } })).toMatchObject({ accepted: false, reason: expect.stringMatching(/^wrong_price/) });
    expect(await client.ledger.accept(second, server.id, 'r2', { usage: { input: 100, output: 50, cached: 0 } })).toMatchObject({ accepted: false, reason: expect.stringMatching(/^usage_mismatch/) });
    expect(await client.ledger.accept(second, server.id, 'other-request', {})).toMatchObject({ accepted: false, reason: expect.stringMatching(/^wrong_request/) });
    expect(await client.ledger.accept(second, server.id, 'r2', { usage: USAGE, price: PRICE })).toMatchObject({ accepted: true });

    // A dispute reaches the server's ledger too.
    const refused = await client.ledger.accept(second, server.id, 'r2', {});
    if (refused.accepted) throw new Error('expected a dispute');
    await server.ledger.recordDispute(refused.dispute);
    const [view] = await server.ledger.summary();
    expect(view!.disputes).toBe(1);
  });

  it('stops serving a peer whose unacknowledged amount is over the credit limit, and resumes after acknowledgement', async () => {
    const cost = costMicros(USAGE, PRICE);
    const server = await party(cost); // one unacknowledged receipt is allowed, two are over
    const client = await party();
    const a = await server.ledger.issue(client.id, 'a', 'm', USAGE, PRICE);
    expect(await server.ledger.creditExceeded(client.id)).toBe(false);
    const b = await server.ledger.issue(client.id, 'b', 'm', USAGE, PRICE);
    expect(await server.ledger.creditExceeded(client.id)).toBe(true);
    const first = await client.ledger.accept(a, server.id, 'a', {});
    expect(first.accepted).toBe(true);
    expect(await server.ledger.recordAck((first as { ack: string }).ack)).toBe(true);
    // A repeated acknowledgement (e.g. one that also came through reconciliation) is not counted twice.
    expect(await server.ledger.recordAck((first as { ack: string }).ack)).toBe(false);
    expect(await server.ledger.unacknowledged(client.id)).toBe(cost);
    // A disputed receipt is out of the totals but still counts toward the credit limit: disputing everything must
    // not be a way around it.
    const second = await client.ledger.accept(b, server.id, 'other-request', {});
    expect(second.accepted).toBe(false);
    await server.ledger.recordDispute((second as { dispute: string }).dispute);
    expect(await server.ledger.unacknowledged(client.id)).toBe(cost);
    expect((await server.ledger.summary())[0]!.served.totalMicros).toBe(cost);
    expect(await server.ledger.creditExceeded(client.id)).toBe(false);
    // The cached figure matches a fresh scan of the stored receipts.
    const reopened = Ledger.open(server.store, server.id, server.signing);
    expect(await reopened.unacknowledged(client.id)).toBe(cost);
    expect(await client.ledger.acksFor(channelId(server.id, client.id), [1, 2])).toEqual([{ seq: 1, ack: (first as { ack: string }).ack }]);
  });

  it('recovers receipts a node lost from its peer, and reports a contradicting one', async () => {
    const server = await party();
    const client = await party();
    for (let i = 1; i <= 4; i++) {
      const jws = await server.ledger.issue(client.id, `r${i}`, 'm', USAGE, PRICE);
      const result = await client.ledger.accept(jws, server.id, `r${i}`, {});
      if (result.accepted) await server.ledger.recordAck(result.ack);
    }
    const channel = channelId(server.id, client.id);
    // The client lost everything: a fresh store with the same identity.
    const fresh = await tempStore();
    const recovered = Ledger.open(fresh, client.id, client.signing);
    const report = await recovered.importChannel(channel, await server.ledger.receiptsAfter(channel, 0));
    expect(report).toEqual({ channel, imported: 4, acknowledged: 0, conflicts: [] });
    expect((await recovered.summary())[0]).toMatchObject({ consumed: { receipts: 4, lastSeq: 4 } });
    expect((await recovered.channelHeads())[0]).toMatchObject({ channel, seq: 4 });

    // A receipt for a held sequence number with other content is reported, not written over.
    const other = await party();
    const foreign = await other.ledger.issue(client.id, 'x', 'm', USAGE, PRICE);
    const conflicting = await recovered.importChannel(channel, [{ jws: foreign }]);
    expect(conflicting.imported).toBe(0);
    expect(conflicting.conflicts[0]!.reason).toMatch(/does not belong/);
  });

  it('acknowledges a receipt that reconciliation imported while its trailer was still on the way', async () => {
    const server = await party();
    const client = await party();
    const channel = channelId(server.id, client.id);
    const first = await server.ledger.issue(client.id, 'r1', 'm', USAGE, PRICE);
    const second = await server.ledger.issue(client.id, 'r2', 'm', USAGE, PRICE);
    expect((await client.ledger.importChannel(channel, await server.ledger.receiptsAfter(channel, 0))).imported).toBe(2);
    // The trailers arrive now: both are checked against their predecessors and acknowledged, not refused as replays.
    for (const [jws, rid] of [[first, 'r1'], [second, 'r2']] as const) {
      const result = await client.ledger.accept(jws, server.id, rid, { usage: USAGE });
      expect(result).toMatchObject({ accepted: true });
      expect(await server.ledger.recordAck((result as { ack: string }).ack)).toBe(true);
    }
    expect(await server.ledger.unacknowledged(client.id)).toBe(0);
    // The same receipt a second time is a replay.
    expect(await client.ledger.accept(second, server.id, 'r2', {})).toMatchObject({ accepted: false, reason: expect.stringMatching(/^replayed/) });
  });

  it('disputes a usage claim above the bound of what the requester measured, whatever the response body said', async () => {
    const server = await party();
    const client = await party();
    const bound = usageBound({ input: 20, output: 10 });
    expect(bound).toEqual({ input: Math.ceil(USAGE_BOUND_FACTOR * 20) + USAGE_BOUND_SLACK.input, output: Math.ceil(USAGE_BOUND_FACTOR * 10) + USAGE_BOUND_SLACK.output });
    const inflated = await server.ledger.issue(client.id, 'r1', 'm', { input: 30, output: 5_000_000, cached: 0 }, PRICE);
    // The body's usage agrees with the receipt (the peer wrote both): the bound still applies.
    expect(await client.ledger.accept(inflated, server.id, 'r1', { usage: { input: 30, output: 5_000_000, cached: 0 }, bound })).toMatchObject({ accepted: false, reason: expect.stringMatching(/^usage_exceeds_measured/) });
    const other = await party();
    const fair = await other.ledger.issue(client.id, 'r2', 'm', { input: bound.input, output: bound.output, cached: 0 }, PRICE);
    expect(await client.ledger.accept(fair, other.id, 'r2', { bound })).toMatchObject({ accepted: true });
    expect(boundedUsage({ input: 30, output: 5_000_000, cached: 40 }, bound)).toEqual({ input: 30, output: bound.output, cached: 30 });
  });

  it('refuses a receipt claiming more cached than input tokens, which the bound on input alone would let through', async () => {
    const server = await party();
    const client = await party();
    const other = await party();
    const bound = usageBound({ input: 20, output: 10 });
    // A hostile issuer signs by hand (its own code refuses to): input within the bound, cached far above it. The
    // formula prices every cached token, so this one receipt would vouch for about $6 for a two-word answer.
    const usage = { input: 30, output: 5, cached: 5_000_000 };
    const cost = costMicros(usage, PRICE);
    expect(cost).toBeGreaterThan(6_000_000);
    const handSigned = (sub: string) => {
      const payload = { v: 1, iss: server.id, sub, ch: channelId(server.id, sub), seq: 1, rid: 'r1', model: 'm', usage, price: PRICE, cost, total: cost, prev: null, iat: Date.now() };
      return signCompact(new TextEncoder().encode(JSON.stringify(payload)), { alg: 'EdDSA', typ: 'mg-receipt+jws', kid: server.id }, server.signing);
    };
    const result = await client.ledger.accept(handSigned(client.id), server.id, 'r1', { usage, price: PRICE, bound, model: 'm' });
    expect(result).toMatchObject({ accepted: false, reason: expect.stringMatching(/^malformed/) });
    // Nor does reconciliation import it as a claim.
    expect((await other.ledger.importChannel(channelId(server.id, other.id), [{ jws: handSigned(other.id) }])).imported).toBe(0);
    // The issuer's own code never signs one.
    await expect(server.ledger.issue(client.id, 'r2', 'm', usage, PRICE)).rejects.toThrow();
  });

  it('disputes a receipt for another model than the one requested', async () => {
    const server = await party();
    const client = await party();
    const receipt = await server.ledger.issue(client.id, 'r1', 'gpt-4o-pricier', USAGE, PRICE);
    expect(await client.ledger.accept(receipt, server.id, 'r1', { model: 'gpt-4o' })).toMatchObject({ accepted: false, reason: expect.stringMatching(/^wrong_model/) });
    const honest = await party();
    const right = await honest.ledger.issue(client.id, 'r2', 'gpt-4o', USAGE, PRICE);
    expect(await client.ledger.accept(right, honest.id, 'r2', { model: 'gpt-4o' })).toMatchObject({ accepted: true });
  });

  it('meshgate receipts verify checks an exported set offline: totals per channel, and a tampered receipt fails it', async () => {
    const server = await party();
    const client = await party();
    const exported: Array<{ jws: string; ack: string | null }> = [];
    for (let i = 1; i <= 3; i++) {
      const jws = await server.ledger.issue(client.id, `r${i}`, 'm', USAGE, PRICE);
      const result = await client.ledger.accept(jws, server.id, `r${i}`, {});
      exported.push({ jws, ack: i < 3 && result.accepted ? result.ack : null });
    }
    const dir = await tempDir();
    const run = async (data: unknown) => {
      const file = join(dir, `set-${Math.random()}.json`);
      await writeFile(file, JSON.stringify({ object: 'list', data }));
      const out: string[] = [];
      const code = await runReceiptsCommand(['verify', file], { out: (l) => out.push(l), err: (l) => out.push(l) });
      return { code, text: out.join('\n') };
    };
    const good = await run(exported);
    expect(good.code).toBe(0);
    const cost = costMicros(USAGE, PRICE);
    expect(good.text).toContain(`3 receipt(s), seq 1..3, 2 acknowledged, total $${(3 * cost / 1e6).toFixed(6)}, acknowledged $${(2 * cost / 1e6).toFixed(6)} — OK`);
    const [h, p, s] = exported[1]!.jws.split('.');
    const tampered = JSON.parse(Buffer.from(p!, 'base64url').toString()) as ReceiptPayload;
    const bad = await run([exported[0], { jws: `${h}.${Buffer.from(JSON.stringify({ ...tampered, cost: tampered.cost + 1 })).toString('base64url')}.${s}`, ack: null }, exported[2]]);
    expect(bad.code).toBe(1);
    expect(bad.text).toMatch(/✗/);
  });
});


describe('acknowledgements of one ledger message', () => {
  it('records them in one write per channel, each standing alone, without reading back receipts just issued', async () => {
    const server = await party();
    const client = await party();
    const acks: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const jws = await server.ledger.issue(client.id, `req-${i}`, 'gpt-4o', USAGE, PRICE);
      const result = await client.ledger.accept(jws, server.id, `req-${i}`, { usage: USAGE, price: PRICE });
      if (!result.accepted) throw new Error(result.reason);
      acks.push(result.ack);
    }
    const batches = vi.spyOn(server.store.db, 'batch');
    const reads = vi.spyOn(server.store.db, 'get');
    // The third is not a signature of the receipt it names; the last repeats the first.
    const forged = `${acks[2]!.slice(0, acks[2]!.lastIndexOf('.'))}.${acks[1]!.slice(acks[1]!.lastIndexOf('.') + 1)}`;
    const results = await server.ledger.recordAcks([acks[0]!, acks[1]!, forged, acks[3]!, acks[0]!], client.id);
    expect(results.map((r) => (r instanceof Error ? 'refused' : r))).toEqual([true, true, 'refused', true, false]);
    expect(batches).toHaveBeenCalledTimes(1);
    expect(reads).not.toHaveBeenCalled();
    const [served] = await server.ledger.summary();
    expect(served).toMatchObject({ served: { receipts: 4, unacknowledgedMicros: costMicros(USAGE, PRICE) } });
    // The refused one is still open, and is recorded once a genuine acknowledgement comes.
    expect(await server.ledger.recordAck(acks[2]!, client.id)).toBe(true);
    expect((await server.ledger.summary())[0]).toMatchObject({ served: { unacknowledgedMicros: 0 } });
  });

  it('checks the next receipt of a channel without a read: only a sequence number the chain has reached can be held', async () => {
    const server = await party();
    const client = await party();
    const first = await server.ledger.issue(client.id, 'req-1', 'gpt-4o', USAGE, PRICE);
    expect(await client.ledger.accept(first, server.id, 'req-1', {})).toMatchObject({ accepted: true });
    const second = await server.ledger.issue(client.id, 'req-2', 'gpt-4o', USAGE, PRICE);
    const reads = vi.spyOn(client.store.db, 'get');
    expect(await client.ledger.accept(second, server.id, 'req-2', {})).toMatchObject({ accepted: true });
    expect(reads).not.toHaveBeenCalled();
    // A replay of a held sequence number is still refused as one.
    expect(await client.ledger.accept(second, server.id, 'req-2', {})).toMatchObject({ accepted: false, reason: expect.stringMatching(/^replayed/) });
  });

  it('reads a receipt back from the store when it is no longer in memory (another ledger on the same store)', async () => {
    const server = await party();
    const client = await party();
    const jws = await server.ledger.issue(client.id, 'req-1', 'gpt-4o', USAGE, PRICE);
    const result = await client.ledger.accept(jws, server.id, 'req-1', { usage: USAGE, price: PRICE });
    if (!result.accepted) throw new Error(result.reason);
    const reopened = Ledger.open(server.store, server.id, server.signing);
    expect(await reopened.recordAck(result.ack, client.id)).toBe(true);
    expect(await reopened.recordAck(result.ack, client.id)).toBe(false);
  });
});

describe('receipts a requester acknowledged are written in batches (protocol/receipts.md, "Transport")', () => {
  it('writes the acknowledged receipts of one batch period in one write, within DEFERRED_WRITE_MS, readable meanwhile', async () => {
    const server = await party();
    const client = await party();
    await client.ledger.summary(); // the figures' one-time setup (a write of its own) done
    const batches = vi.spyOn(client.store.db, 'batch');
    const acks: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const jws = await server.ledger.issue(client.id, `req-${i}`, 'gpt-4o', USAGE, PRICE);
      const result = await client.ledger.accept(jws, server.id, `req-${i}`, { usage: USAGE, price: PRICE });
      if (!result.accepted) throw new Error(result.reason);
      acks.push(result.ack);
    }
    expect(batches).not.toHaveBeenCalled();
    // Held back, yet what the ledger answers already includes them: the issuer asking for acknowledgements, the head.
    const channel = channelId(server.id, client.id);
    expect(await client.ledger.headSeq(channel)).toBe(5);
    expect((await client.ledger.acksFor(channel, [1, 5])).map((a) => a.ack)).toEqual([acks[0], acks[4]]);
    expect(batches).not.toHaveBeenCalled();
    // Then one write, by the timer, and a ledger opened afresh on the store (a restart) holds all five, acknowledged.
    await vi.waitFor(() => expect(batches).toHaveBeenCalledTimes(1), { timeout: 5 * DEFERRED_WRITE_MS });
    await client.ledger.flushDeferred();
    const reopened = Ledger.open(client.store, client.id, client.signing);
    expect(await reopened.headSeq(channel)).toBe(5);
    expect((await reopened.list()).map((r) => [r.seq, r.ack])).toEqual(acks.map((ack, i) => [i + 1, ack]));
    expect((await reopened.summary())[0]).toMatchObject({ consumed: { receipts: 5, totalMicros: 5 * costMicros(USAGE, PRICE), lastSeq: 5 } });
  });

  it('keeps what a failed write held back and writes it on the timer\'s next try', async () => {
    const server = await party();
    const client = await party();
    const jws = await server.ledger.issue(client.id, 'req-1', 'gpt-4o', USAGE, PRICE);
    expect(await client.ledger.accept(jws, server.id, 'req-1', {})).toMatchObject({ accepted: true });
    const batch = client.store.db.batch.bind(client.store.db);
    const batches = vi.spyOn(client.store.db, 'batch').mockImplementationOnce(() => {
      const failing = batch();
      failing.write = async () => {
        throw new Error('disk full (simulated)');
      };
      return failing;
    });
    await expect(client.ledger.flushDeferred()).rejects.toThrow('disk full');
    expect(batches).toHaveBeenCalledTimes(1);
    await vi.waitFor(() => expect(batches).toHaveBeenCalledTimes(2), { timeout: 5 * DEFERRED_WRITE_MS });
    await client.ledger.flushDeferred();
    expect((await Ledger.open(client.store, client.id, client.signing).list()).map((r) => r.requestId)).toEqual(['req-1']);
    expect(batches).toHaveBeenCalledTimes(2);
  });

  it('writes what is held back before a later write of the same channel, so the later figures are the ones kept', async () => {
    const server = await party();
    const client = await party();
    const first = await server.ledger.issue(client.id, 'req-1', 'gpt-4o', USAGE, PRICE);
    expect(await client.ledger.accept(first, server.id, 'req-1', { usage: USAGE, price: PRICE })).toMatchObject({ accepted: true });
    // A refused receipt is written at once (a dispute is sent at once too), with the channel's figures.
    const second = await server.ledger.issue(client.id, 'req-2', 'gpt-4o', USAGE, PRICE);
    expect(await client.ledger.accept(second, server.id, 'req-2', { usage: USAGE, price: { ...PRICE, output: 1 } })).toMatchObject({ accepted: false });
    const reopened = Ledger.open(client.store, client.id, client.signing);
    const [consumed] = await reopened.summary();
    expect(consumed).toMatchObject({ consumed: { receipts: 1, totalMicros: costMicros(USAGE, PRICE), lastSeq: 1 }, disputes: 1 });
    expect(await reopened.headSeq(channelId(server.id, client.id))).toBe(1);
  });

  it('lists the receipts held back (a scan of the store writes them first), and flushDeferred writes the rest at once (as a node does on stop)', async () => {
    const server = await party();
    const client = await party();
    const jws = await server.ledger.issue(client.id, 'req-1', 'gpt-4o', USAGE, PRICE);
    expect(await client.ledger.accept(jws, server.id, 'req-1', {})).toMatchObject({ accepted: true });
    expect((await client.ledger.list()).map((r) => r.requestId)).toEqual(['req-1']);
    const later = await server.ledger.issue(client.id, 'req-2', 'gpt-4o', USAGE, PRICE);
    expect(await client.ledger.accept(later, server.id, 'req-2', {})).toMatchObject({ accepted: true });
    await client.ledger.flushDeferred();
    expect((await Ledger.open(client.store, client.id, client.signing).list()).map((r) => r.requestId)).toEqual(['req-1', 'req-2']);
  });
});

describe('one text per signed object (protocol/receipts.md, "Canonical form")', () => {
  it('refuses an acknowledgement or a dispute whose signature is spelled in non-canonical base64url', async () => {
    const server = await party();
    const client = await party();
    const first = await server.ledger.issue(client.id, 'r1', 'm', USAGE, PRICE);
    const second = await server.ledger.issue(client.id, 'r2', 'm', USAGE, PRICE);
    const accepted = await client.ledger.accept(first, server.id, 'r1', {});
    if (!accepted.accepted) throw new Error('expected an acknowledgement');
    await expect(server.ledger.recordAck(respellLastCharacter(accepted.ack), client.id)).rejects.toMatchObject({ reason: 'malformed' });
    expect(await server.ledger.unacknowledged(client.id)).toBe(2 * costMicros(USAGE, PRICE));
    expect(await server.ledger.recordAck(accepted.ack, client.id)).toBe(true);

    const refused = await client.ledger.accept(second, server.id, 'not-r2', {});
    if (refused.accepted) throw new Error('expected a dispute');
    await expect(server.ledger.recordDispute(respellLastCharacter(refused.dispute), client.id)).rejects.toMatchObject({ reason: 'malformed' });
    expect((await server.ledger.summary())[0]!.disputes).toBe(0);
    await server.ledger.recordDispute(refused.dispute, client.id);
    expect((await server.ledger.summary())[0]!.disputes).toBe(1);
  });

  it('refuses a dispute whose payload is not in canonical form, though validly signed', async () => {
    const server = await party();
    const client = await party();
    const receipt = await server.ledger.issue(client.id, 'r1', 'm', USAGE, PRICE);
    const dispute = { v: 1 as const, ch: channelId(server.id, client.id), seq: 1, rid: 'r1', receipt: receiptHash(receipt), reason: 'wrong_request: test', iat: 1 };
    const spaced = signCompact(new TextEncoder().encode(JSON.stringify(dispute, null, 2)), { alg: 'EdDSA', typ: DISPUTE_TYP, kid: client.id }, client.signing);
    await expect(server.ledger.recordDispute(spaced, client.id)).rejects.toMatchObject({ reason: 'malformed' });
    await server.ledger.recordDispute(await signDispute(dispute, client.signing, client.id), client.id);
    expect((await server.ledger.summary())[0]!.disputes).toBe(1);
  });
});
