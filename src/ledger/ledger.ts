import type { KeyObject } from 'node:crypto';
import type { Store } from '../store/index.js';
import { withinBound, type MeasuredTokens } from './usage-bound.js';
import {
  ReceiptError, channelId, channelParties, claimedPosition, costMicros, isPartyOf, receiptHash, signAck, signDispute, signReceipt, verifyAck, verifyAckSignature, verifyDispute, verifyReceipt,
  type ReceiptPayload,
} from './receipt.js';

export interface StoredReceipt {
  jws: string;
  channel: string;
  seq: number;
  issuer: string;
  subject: string;
  requestId: string;
  model: string;
  cost: number;
  total: number;
  hash: string;
  iat: number;
  ack?: string;
  dispute?: { reason: string; jws?: string; at: number };
}

/** A dispute that does not take a held receipt out of the totals (see `recordDispute`). */
export interface NotedDispute {
  channel: string;
  seq: number;
  requestId: string;
  /** Hash of the disputed JWS, as the dispute names it (null when it named none). */
  receipt: string | null;
  reason: string;
  signer: string;
  jws: string;
  at: number;
}

interface ChannelHead {
  seq: number;
  total: number;
  hash: string | null;
}

export interface Measured {
  /** Usage this node measured on the response it relayed. */
  usage?: { input: number; output: number; cached: number };
  /**
   * The most this node acknowledges, from its own measurement of the request it sent and the answer it relayed
   * (usage-bound.ts): a claim above it is disputed with `usage_exceeds_measured`, whatever the response body says.
   */
  bound?: MeasuredTokens;
  /** The model of the request this node sent: a receipt for another model is disputed (`wrong_model`). */
  model?: string;
  /** The price the peer advertised for the model, micro-USD per million tokens. */
  price?: ReceiptPayload['price'];
}

export type Acceptance = { accepted: true; ack: string; receipt: ReceiptPayload } | { accepted: false; dispute: string; reason: string };

export interface PeerLedger {
  peer: string;
  served: { receipts: number; totalMicros: number; lastSeq: number; unacknowledgedMicros: number };
  /**
   * Receipts this node was charged. Totals count only receipts it acknowledged (what it signed for);
   * `claimedMicros` is what the peer claims without this node's acknowledgement (receipts recovered by
   * reconciliation that this node never checked), to be settled by the operators.
   */
  consumed: { receipts: number; totalMicros: number; lastSeq: number; claimedMicros: number };
  /** Positive: the peer owes this node; negative: this node owes the peer (micro-USD). */
  balanceMicros: number;
  disputes: number;
}

export interface ReconcileReport {
  channel: string;
  /** Receipts this node was missing, fetched from the peer and imported. */
  imported: number;
  /** Acknowledgements of receipts this node issued that had not reached it (lost in transit), now recorded. */
  acknowledged: number;
  /** Receipts that contradict what this node holds (same seq, different content), never overwritten. */
  conflicts: Array<{ seq: number; reason: string }>;
}

export const newReconcileReport = (channel: string): ReconcileReport => ({ channel, imported: 0, acknowledged: 0, conflicts: [] });

/** The outcome of the last reconciliation with one peer (kept by the reconciler, shown by GET /v1/mesh/ledger). */
export interface PeerReconciliation {
  peer: string;
  at: string;
  imported: number;
  acknowledged: number;
  conflicts: Array<{ channel: string; seq: number; reason: string }>;
  /** Set when the peer could not be asked (unreachable, refused); nothing was changed then. */
  error?: string;
}

const pad = (seq: number) => String(seq).padStart(12, '0');
const EMPTY_HEAD: ChannelHead = { seq: 0, total: 0, hash: null };

/**
 * Both sides of the receipt protocol for one node: issuing receipts for work served, checking and acknowledging (or
 * disputing) receipts for work consumed, per-peer totals, credit limits, and reconciliation of channels after data
 * loss. Writes to a channel are serialised in-process (LevelDB has no compare-and-set).
 */
export class Ledger {
  private readonly receipts;
  private readonly notedDisputes;
  private readonly heads;
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Unacknowledged, undisputed amount per subject this node served (micro-USD); filled on first use by one scan. */
  private readonly unacked = new Map<string, number>();
  private readonly headCache = new Map<string, ChannelHead>();

  private constructor(
    store: Store,
    readonly selfId: string,
    private readonly key: KeyObject,
    private readonly options: { creditLimitMicros?: number; tolerance: number },
  ) {
    this.receipts = store.sublevel<StoredReceipt>('receipt');
    this.notedDisputes = store.sublevel<NotedDispute>('receipt-dispute');
    this.heads = store.sublevel<ChannelHead>('channel');
  }

  static open(store: Store, selfId: string, key: KeyObject, options: { creditLimitMicros?: number; tolerance?: number } = {}): Ledger {
    return new Ledger(store, selfId, key, { tolerance: options.tolerance ?? 0.02, ...options });
  }

  private serial<T>(channel: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(channel) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(channel, tail);
    // Dropped once nothing else queued behind it: the map holds only channels with work in flight.
    void tail.then(() => {
      if (this.locks.get(channel) === tail) this.locks.delete(channel);
    });
    return next;
  }

  /** Heads are read on every receipt; they change only through `store`, so they are kept in memory once read. */
  private async head(channel: string): Promise<ChannelHead> {
    const cached = this.headCache.get(channel);
    if (cached) return cached;
    const head = (await this.heads.get(channel)) ?? EMPTY_HEAD;
    this.headCache.set(channel, head);
    return head;
  }

  /** The channel as it stood just before receipt `seq` (its predecessor's head). */
  private async headBefore(channel: string, seq: number): Promise<ChannelHead> {
    if (seq <= 1) return EMPTY_HEAD;
    const previous = await this.receipts.get(`${channel}!${pad(seq - 1)}`);
    return previous ? { seq: previous.seq, total: previous.total, hash: previous.hash } : { seq: seq - 1, total: Number.NaN, hash: null };
  }

  private async store(jws: string, p: ReceiptPayload, extra: Partial<StoredReceipt> = {}): Promise<StoredReceipt> {
    const record: StoredReceipt = {
      jws, channel: p.ch, seq: p.seq, issuer: p.iss, subject: p.sub, requestId: p.rid, model: p.model, cost: p.cost,
      total: p.total, hash: receiptHash(jws), iat: p.iat, ...extra,
    };
    const head = await this.head(p.ch);
    const next: ChannelHead = { seq: p.seq, total: p.total, hash: record.hash };
    const batch = this.receipts.db.batch();
    batch.put(`${p.ch}!${pad(p.seq)}`, record, { sublevel: this.receipts } as never);
    if (p.seq > head.seq) batch.put(p.ch, next, { sublevel: this.heads } as never);
    await batch.write();
    if (p.seq > head.seq) this.headCache.set(p.ch, next);
    return record;
  }

  /** Serving side: a signed receipt for one forwarded request, chained to the channel's previous one. */
  issue(subject: string, requestId: string, model: string, usage: ReceiptPayload['usage'], price: ReceiptPayload['price']): Promise<string> {
    const channel = channelId(this.selfId, subject);
    return this.serial(channel, async () => {
      const head = await this.head(channel);
      const cost = costMicros(usage, price);
      const payload: ReceiptPayload = {
        v: 1, iss: this.selfId, sub: subject, ch: channel, seq: head.seq + 1, rid: requestId, model, usage, price, cost,
        total: head.total + cost, prev: head.hash, iat: Date.now(),
      };
      const jws = await signReceipt(payload, this.key);
      const owed = await this.unacknowledgedLocked(subject);
      await this.store(jws, payload);
      this.unacked.set(subject, owed + cost);
      return jws;
    });
  }

  /** Serving side: the unacknowledged amount owed by `subject` is over the credit limit. */
  async creditExceeded(subject: string): Promise<boolean> {
    if (this.options.creditLimitMicros === undefined) return false;
    return (await this.unacknowledged(subject)) > this.options.creditLimitMicros;
  }

  /**
   * Serving side: what `subject` has not acknowledged (micro-USD), disputed receipts included — for the credit
   * limit, a disputed receipt is not paid either (otherwise disputing everything would mean never being limited).
   */
  async unacknowledged(subject: string): Promise<number> {
    const cached = this.unacked.get(subject);
    if (cached !== undefined) return cached;
    // Filled under the channel's lock, so no receipt or acknowledgement lands between the scan and the cache.
    return this.serial(channelId(this.selfId, subject), () => this.unacknowledgedLocked(subject));
  }

  /** `unacknowledged` for a caller that already holds the channel's lock. */
  private async unacknowledgedLocked(subject: string): Promise<number> {
    const cached = this.unacked.get(subject);
    if (cached !== undefined) return cached;
    const channel = channelId(this.selfId, subject);
    let amount = 0;
    for await (const record of this.receipts.values({ gte: `${channel}!`, lt: `${channel}!~` })) if (!record.ack && record.issuer === this.selfId) amount += record.cost;
    this.unacked.set(subject, amount);
    return amount;
  }

  /** Serving side: receipts issued to `subject` that are neither acknowledged nor disputed, in sequence order. */
  async openReceipts(subject: string): Promise<StoredReceipt[]> {
    const channel = channelId(this.selfId, subject);
    const open: StoredReceipt[] = [];
    for await (const record of this.receipts.values({ gte: `${channel}!`, lt: `${channel}!~` })) if (!record.ack && !record.dispute) open.push(record);
    return open;
  }

  /** A receipt acknowledged now lowers the cached unacknowledged figure. */
  private settled(record: StoredReceipt): void {
    if (record.issuer !== this.selfId || record.ack) return;
    const owed = this.unacked.get(record.subject);
    if (owed !== undefined) this.unacked.set(record.subject, Math.max(0, owed - record.cost));
  }

  /**
   * Serving side: stores the requester's acknowledgement of a receipt this node issued. Returns false when the
   * receipt was already acknowledged (a repeat is harmless).
   */
  async recordAck(ackJws: string, from?: string): Promise<boolean> {
    const claimed = claimedPosition(ackJws);
    if (!claimed) throw new ReceiptError('malformed', 'acknowledgement payload does not name a channel and sequence');
    // Only the subject of this node's own channel may acknowledge; checked before anything is queued or looked up.
    if (from !== undefined && claimed.channel !== channelId(this.selfId, from)) {
      throw new ReceiptError('unknown', 'acknowledgement for a channel this peer is not the subject of');
    }
    const key = `${claimed.channel}!${pad(claimed.seq)}`;
    return this.serial(claimed.channel, async () => {
      const record = await this.receipts.get(key);
      if (!record || record.issuer !== this.selfId) throw new ReceiptError('unknown', `no receipt ${claimed.channel}#${claimed.seq} issued by this node`);
      await verifyAckSignature(ackJws, record.jws, record.subject);
      if (record.ack) return false;
      await this.receipts.put(key, { ...record, ack: ackJws });
      this.settled(record);
      return true;
    });
  }

  /**
   * Records a signed dispute from the other party of a channel (`from`, when known, must be its signer). It takes a
   * receipt out of the totals only when it names, by hash, a receipt held here that is not acknowledged: a dispute
   * of a receipt this node never issued in that form (altered on the way, a duplicate delivery) or of one the
   * subject already countersigned is kept as a noted dispute, counted but without effect on the amounts.
   */
  async recordDispute(disputeJws: string, from?: string): Promise<void> {
    const dispute = await verifyDispute(disputeJws, from);
    if (!isPartyOf(dispute.ch, dispute.signer) || !isPartyOf(dispute.ch, this.selfId)) {
      throw new ReceiptError('wrong_signer', 'dispute not signed by a party of the channel');
    }
    const key = `${dispute.ch}!${pad(dispute.seq)}`;
    await this.serial(dispute.ch, async () => {
      const record = await this.receipts.get(key);
      if (record && record.hash === dispute.receipt && !record.ack && !record.dispute) {
        // Out of the totals, but still owed as far as the credit limit goes (see `unacknowledged`).
        await this.receipts.put(key, { ...record, dispute: { reason: dispute.reason, jws: disputeJws, at: Date.now() } });
        return;
      }
      await this.notedDisputes.put(`${dispute.ch}!${dispute.receipt ?? `seq-${dispute.seq}-${dispute.iat}`}`, {
        channel: dispute.ch, seq: dispute.seq, requestId: dispute.rid, receipt: dispute.receipt, reason: dispute.reason, signer: dispute.signer, jws: disputeJws, at: Date.now(),
      });
    });
  }

  /** Requesting side: the acknowledgements this node holds for some receipts of a channel (for the issuer that lost them). */
  async acksFor(channel: string, seqs: number[]): Promise<Array<{ seq: number; ack: string }>> {
    const out: Array<{ seq: number; ack: string }> = [];
    for (const seq of seqs) {
      const record = await this.receipts.get(`${channel}!${pad(seq)}`);
      if (record?.ack) out.push({ seq, ack: record.ack });
    }
    return out;
  }

  /**
   * Requesting side: checks every field of a receipt from `peerId` for request `requestId`, then acknowledges it
   * (countersignature) or disputes it (signed, with the reason). Both outcomes are stored.
   */
  accept(receiptJws: string, peerId: string, requestId: string, measured: Measured): Promise<Acceptance> {
    const channel = channelId(peerId, this.selfId);
    return this.serial(channel, async () => {
      let payload: ReceiptPayload | undefined;
      try {
        payload = await verifyReceipt(receiptJws, peerId);
        const held = await this.receipts.get(`${channel}!${pad(payload.seq)}`);
        if (held && held.hash === receiptHash(receiptJws) && !held.ack && !held.dispute) {
          // Imported by reconciliation while its trailer was on the way: checked against the receipt before it.
          this.check(payload, await this.headBefore(channel, payload.seq), requestId, measured);
          const ack = await signAck(receiptJws, this.key, this.selfId);
          await this.receipts.put(`${channel}!${pad(payload.seq)}`, { ...held, ack });
          return { accepted: true as const, ack, receipt: payload };
        }
        this.check(payload, await this.head(channel), requestId, measured);
        const ack = await signAck(receiptJws, this.key, this.selfId);
        await this.store(receiptJws, payload, { ack });
        return { accepted: true as const, ack, receipt: payload };
      } catch (err) {
        const reason = err instanceof ReceiptError ? `${err.reason}: ${err.message}` : `invalid: ${(err as Error).message}`;
        const seq = payload?.seq ?? 0;
        const hash = receiptHash(receiptJws);
        const dispute = await signDispute({ v: 1, ch: channel, seq: Math.max(1, seq), rid: requestId, receipt: hash, reason, iat: Date.now() }, this.key, this.selfId);
        if (payload && !(await this.receipts.get(`${channel}!${pad(payload.seq)}`))) {
          // Kept for the record, outside the chain (the head does not move).
          await this.receipts.put(`${channel}!dispute!${hash}`, { jws: receiptJws, channel, seq: payload.seq, issuer: payload.iss, subject: payload.sub, requestId: payload.rid, model: payload.model, cost: payload.cost, total: payload.total, hash, iat: payload.iat, dispute: { reason, jws: dispute, at: Date.now() } });
        } else {
          // Unverifiable, or a second receipt for a sequence number held already (a replay): noted, not stored as a receipt.
          await this.notedDisputes.put(`${channel}!${hash}`, { channel, seq: Math.max(1, seq), requestId, receipt: hash, reason, signer: this.selfId, jws: dispute, at: Date.now() });
        }
        return { accepted: false as const, dispute, reason };
      }
    });
  }

  private check(p: ReceiptPayload, head: ChannelHead, requestId: string, measured: Measured): void {
    if (p.sub !== this.selfId) throw new ReceiptError('wrong_subject', `receipt is for ${p.sub}, not this node`);
    if (p.rid !== requestId) throw new ReceiptError('wrong_request', `receipt names request ${p.rid}, not ${requestId}`);
    if (measured.model !== undefined && p.model !== measured.model) throw new ReceiptError('wrong_model', `receipt names model ${p.model}, the request was for ${measured.model}`);
    if (p.seq <= head.seq) throw new ReceiptError('replayed', `sequence ${p.seq} already seen (head ${head.seq})`);
    if (p.seq !== head.seq + 1) throw new ReceiptError('out_of_order', `sequence ${p.seq} does not follow ${head.seq}`);
    if (p.prev !== head.hash) throw new ReceiptError('broken_chain', 'prev does not match the hash of the previous receipt');
    if (measured.price && (p.price.input !== measured.price.input || p.price.output !== measured.price.output || p.price.cached !== measured.price.cached)) {
      throw new ReceiptError('wrong_price', 'price differs from the price the peer advertised');
    }
    if (p.cost !== costMicros(p.usage, p.price)) throw new ReceiptError('wrong_cost', `cost ${p.cost} does not match usage at the stated price`);
    if (p.total !== head.total + p.cost) throw new ReceiptError('wrong_total', `cumulative total ${p.total} is not ${head.total} + ${p.cost}`);
    if (measured.usage) {
      const within = (claimed: number, seen: number) => Math.abs(claimed - seen) <= Math.max(2, Math.ceil(seen * this.options.tolerance));
      // Cached input is priced lower: claiming fewer cached tokens than were served is overcharging too.
      if (!within(p.usage.input, measured.usage.input) || !within(p.usage.output, measured.usage.output) || !within(p.usage.cached, measured.usage.cached)) {
        throw new ReceiptError('usage_mismatch', `usage ${p.usage.input}/${p.usage.output}/${p.usage.cached} (input/output/cached) differs from measured ${measured.usage.input}/${measured.usage.output}/${measured.usage.cached}`);
      }
    }
    if (measured.bound && !withinBound(p.usage, measured.bound)) {
      throw new ReceiptError('usage_exceeds_measured', `usage ${p.usage.input}/${p.usage.output} (input/output) exceeds what this node measured on the stream (at most ${measured.bound.input}/${measured.bound.output})`);
    }
  }

  /** Every stored receipt, optionally only those with `peer` as the other party, in channel order. */
  async list(peer?: string): Promise<StoredReceipt[]> {
    const out: StoredReceipt[] = [];
    for await (const record of this.receipts.values()) {
      if (peer && record.issuer !== peer && record.subject !== peer) continue;
      out.push(record);
    }
    return out;
  }

  async summary(): Promise<PeerLedger[]> {
    const peers = new Map<string, PeerLedger>();
    const of = (peer: string) =>
      peers.get(peer) ?? peers.set(peer, { peer, served: { receipts: 0, totalMicros: 0, lastSeq: 0, unacknowledgedMicros: 0 }, consumed: { receipts: 0, totalMicros: 0, lastSeq: 0, claimedMicros: 0 }, balanceMicros: 0, disputes: 0 }).get(peer)!;
    for (const r of await this.list()) {
      const inChain = !r.dispute;
      if (r.issuer === this.selfId) {
        const p = of(r.subject);
        if (r.dispute) p.disputes++;
        if (!inChain) continue;
        p.served.receipts++;
        p.served.totalMicros += r.cost;
        p.served.lastSeq = Math.max(p.served.lastSeq, r.seq);
        if (!r.ack) p.served.unacknowledgedMicros += r.cost;
      } else {
        const p = of(r.issuer);
        if (r.dispute) p.disputes++;
        if (!inChain) continue;
        p.consumed.lastSeq = Math.max(p.consumed.lastSeq, r.seq);
        if (!r.ack) {
          p.consumed.claimedMicros += r.cost;
          continue;
        }
        p.consumed.receipts++;
        p.consumed.totalMicros += r.cost;
      }
    }
    for await (const noted of this.notedDisputes.values()) {
      const other = channelParties(noted.channel)?.find((party) => party !== this.selfId);
      if (other) of(other).disputes++;
    }
    for (const p of peers.values()) p.balanceMicros = p.served.totalMicros - p.consumed.totalMicros;
    return [...peers.values()];
  }

  /** The last sequence number this node holds in a channel (0 when it holds none). */
  async headSeq(channel: string): Promise<number> {
    return (await this.head(channel)).seq;
  }

  /** Channel heads this node holds (for reconciliation). */
  async channelHeads(): Promise<Array<{ channel: string } & ChannelHead>> {
    const out: Array<{ channel: string } & ChannelHead> = [];
    for await (const [channel, head] of this.heads.iterator()) out.push({ channel, ...head });
    return out;
  }

  /** Receipts of a channel after `seq` (with their acknowledgements), for a peer that lost them. */
  async receiptsAfter(channel: string, seq: number, limit = Number.MAX_SAFE_INTEGER): Promise<Array<{ jws: string; ack?: string }>> {
    const out: Array<{ jws: string; ack?: string }> = [];
    const range = { gt: `${channel}!${pad(seq)}`, lt: `${channel}!${pad(Number.MAX_SAFE_INTEGER)}`, limit };
    for await (const r of this.receipts.values(range)) out.push({ jws: r.jws, ...(r.ack ? { ack: r.ack } : {}) });
    return out;
  }

  /**
   * Imports receipts a peer sent for a channel this node is party to, verifying signatures and the hash chain from
   * this node's head. A receipt that contradicts one held here is reported, never written over.
   */
  importChannel(channel: string, items: Array<{ jws: string; ack?: string }>): Promise<ReconcileReport> {
    return this.serial(channel, async () => {
      const report = newReconcileReport(channel);
      let head = await this.head(channel);
      for (const item of items) {
        let p: ReceiptPayload;
        try {
          p = await verifyReceipt(item.jws);
        } catch (err) {
          report.conflicts.push({ seq: 0, reason: `unverifiable receipt: ${(err as Error).message}` });
          continue;
        }
        if (p.ch !== channel || (p.iss !== this.selfId && p.sub !== this.selfId)) {
          report.conflicts.push({ seq: p.seq, reason: 'receipt does not belong to this channel' });
          continue;
        }
        const held = await this.receipts.get(`${channel}!${pad(p.seq)}`);
        if (held) {
          if (held.hash !== receiptHash(item.jws)) report.conflicts.push({ seq: p.seq, reason: 'differs from the receipt held for this sequence number' });
          continue;
        }
        if (p.seq !== head.seq + 1 || p.prev !== head.hash || p.total !== head.total + p.cost) {
          report.conflicts.push({ seq: p.seq, reason: 'does not chain onto the receipts held here' });
          break;
        }
        let ack: string | undefined;
        if (item.ack) {
          try {
            await verifyAck(item.ack, item.jws);
            ack = item.ack;
          } catch {
            report.conflicts.push({ seq: p.seq, reason: 'acknowledgement does not verify' });
          }
        }
        const record = await this.store(item.jws, p, ack ? { ack } : {});
        head = { seq: p.seq, total: p.total, hash: record.hash };
        report.imported++;
        // Receipts this node issued and had lost: the cached unacknowledged amount is recomputed on next use.
        if (p.iss === this.selfId) this.unacked.delete(p.sub);
      }
      return report;
    });
  }
}
