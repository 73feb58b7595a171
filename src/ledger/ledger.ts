import type { KeyObject } from 'node:crypto';
import type { Store } from '../store/index.js';
import { EMPTY_STATS, receiptDelta, withDelta, type ChannelStats } from './channel-stats.js';
import type { ReceiptJournal } from './receipt-journal.js';
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
  /** A dispute the subject withdrew by acknowledging the receipt after all (its acknowledgement overrides it). */
  supersededDispute?: { reason: string; jws?: string; at: number };
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
 * Entries a channel may hold outside its chain: noted disputes and receipts this node refused (protocol/receipts.md,
 * "Bounds"). Both are at most one per sequence number already; this caps what a hostile counterparty can make a node
 * store (each dispute it accepts names a receipt the node holds, so it also needs a receipt for each).
 */
export const MAX_NOTED_PER_CHANNEL = 1_000;
/**
 * Receipts of another issuer that reconciliation or gap-filling may import into a channel without this node's
 * acknowledgement (claims, outside its totals): an issuer can sign any number of them, so they are bounded too.
 */
export const MAX_CLAIMS_PER_CHANNEL = 10_000;
/**
 * Receipt records kept in memory as last written (write-through, oldest dropped first): an acknowledgement arrives
 * tens of milliseconds after its receipt was issued and finds it here instead of reading it back from LevelDB.
 */
const RECENT_RECEIPTS = 4_096;
/** Version of the per-channel figures; a ledger without them (older data) computes them once, by one scan. */
const STATS_VERSION = 1;
/**
 * How long the receipts a requester acknowledged wait in memory before they are written, together (protocol/receipts.md,
 * "Transport"): the acknowledgements themselves wait as long in their batch (`ACK_BATCH_MS`), so one
 * write per batch instead of one per forwarded request (a thread-pool job and a LevelDB log write each) loses, in a
 * crash, no more than the batch of acknowledgements already did.
 */
export const DEFERRED_WRITE_MS = 250;
/**
 * Puts waiting to be written past which they are written at once (a busy channel: bounded memory, bounded loss). Well
 * below the gap a requester fills by fetching (`MAX_GAP` in settle-receipt.ts), so what a crash loses comes back.
 */
const MAX_DEFERRED_PUTS = 512;

/** A sublevel of the store, as the key of what is held back for it and as a batch put's target. */
type Sublevel = object;
/** One key to write: its sublevel, its key there, its value. */
type Put = readonly [sublevel: Sublevel, key: string, value: unknown];

type Noted = 'stored' | 'duplicate' | 'full';

export interface LedgerOptions {
  /** Unacknowledged amount (micro-USD) a subject may owe before `creditExceeded`; absent = no limit. */
  creditLimitMicros?: number;
  /** Relative difference tolerated between claimed and measured usage (default 2%). */
  tolerance?: number;
  /** Entries kept outside each channel's chain (default `MAX_NOTED_PER_CHANNEL`). */
  maxNotedPerChannel?: number;
  /** Unacknowledged receipts of another issuer imported into a channel (default `MAX_CLAIMS_PER_CHANNEL`). */
  maxClaimsPerChannel?: number;
  /**
   * Where the receipts this node issues are journaled before their trailer leaves, so that their LevelDB write joins
   * the ledger's next batch (absent: each is written to LevelDB before `issue` returns). Replayed at open.
   */
  journal?: ReceiptJournal;
}

/** What replaying the journal at open did: receipts written to the store, and entries it could not take. */
export interface JournalReplay {
  replayed: number;
  problems: string[];
}

/**
 * Both sides of the receipt protocol for one node: issuing receipts for work served, checking and acknowledging (or
 * disputing) receipts for work consumed, per-peer totals, credit limits, and reconciliation of channels after data
 * loss. Writes to a channel are serialised in-process (LevelDB has no compare-and-set).
 */
export class Ledger {
  private readonly receipts;
  private readonly notedDisputes;
  private readonly heads;
  private readonly stats;
  private readonly meta;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly headCache = new Map<string, ChannelHead>();
  private readonly statsCache = new Map<string, ChannelStats>();
  private readonly recent = new Map<string, StoredReceipt>();
  private statsReady: Promise<void> | undefined;
  /** Puts held back (`commit` with `defer`), newest value per key, written by the next write of this ledger. */
  readonly #deferred = new Map<Sublevel, Map<string, unknown>>();
  #deferredCount = 0;
  #deferredTimer: NodeJS.Timeout | undefined;
  /** What the write in progress took of them (readable until it is in LevelDB). */
  #writing: Map<Sublevel, Map<string, unknown>> | undefined;
  /**
   * The ledger's writes, one after the other: a held-back value and a later one of the same key (a channel's figures)
   * must reach LevelDB in that order, and two batches handed to its thread pool at once may land in either.
   */
  #writes: Promise<void> = Promise.resolve();
  readonly #journal: ReceiptJournal | undefined;
  /** The journal's replay into the store, started at open; issuing waits for it. */
  readonly #replay: Promise<JournalReplay> | undefined;

  private constructor(
    store: Store,
    readonly selfId: string,
    private readonly key: KeyObject,
    private readonly options: { creditLimitMicros?: number; tolerance: number; maxNotedPerChannel: number; maxClaimsPerChannel: number },
    journal?: ReceiptJournal,
  ) {
    this.receipts = store.sublevel<StoredReceipt>('receipt');
    this.notedDisputes = store.sublevel<NotedDispute>('receipt-dispute');
    this.heads = store.sublevel<ChannelHead>('channel');
    this.stats = store.sublevel<ChannelStats>('channel-stats');
    this.meta = store.sublevel<number>('ledger-meta');
    this.#journal = journal;
    this.#replay = journal && this.#replayJournal(journal);
    this.#replay?.catch(() => undefined); // awaited by `recovered()` and by `issue`
  }

  static open(store: Store, selfId: string, key: KeyObject, options: LedgerOptions = {}): Ledger {
    const { journal, ...rest } = options;
    return new Ledger(store, selfId, key, { ...rest, tolerance: options.tolerance ?? 0.02, maxNotedPerChannel: options.maxNotedPerChannel ?? MAX_NOTED_PER_CHANNEL,
      maxClaimsPerChannel: options.maxClaimsPerChannel ?? MAX_CLAIMS_PER_CHANNEL,
    }, journal);
  }

  /** The journal's replay (nothing to do without a journal); a node awaits it before it serves or answers a peer. */
  recovered(): Promise<JournalReplay> {
    return this.#replay ?? Promise.resolve({ replayed: 0, problems: [] });
  }

  /**
   * Writes the receipts journaled before this start that the store does not hold (a crash between a trailer and the
   * batch that would have written its receipt), in the order they were issued, then deletes what was replayed. An
   * entry the store holds already is skipped; one that contradicts the store or does not chain onto its head (never
   * written by this code) is reported and left out.
   */
  async #replayJournal(journal: ReceiptJournal): Promise<JournalReplay> {
    const result: JournalReplay = { replayed: 0, problems: [] };
    for (const jws of await journal.pending()) {
      let p: ReceiptPayload;
      try {
        p = await verifyReceipt(jws, this.selfId);
      } catch (err) {
        result.problems.push(`unverifiable entry: ${(err as Error).message}`);
        continue;
      }
      const held = await this.receipt(`${p.ch}!${pad(p.seq)}`);
      if (held) {
        if (held.hash !== receiptHash(jws)) result.problems.push(`${p.ch}#${p.seq}: differs from the receipt the store holds`);
        continue;
      }
      const head = await this.head(p.ch);
      if (p.seq !== head.seq + 1 || p.prev !== head.hash || p.total !== head.total + p.cost) {
        result.problems.push(`${p.ch}#${p.seq}: does not chain onto the store's head (${head.seq})`);
        continue;
      }
      await this.store(jws, p, {}, 'deferred');
      result.replayed++;
    }
    await this.flushDeferred();
    await journal.releaseFound();
    return result;
  }

  /** Closes the journal's file (a stopping node, after its last `flushDeferred`). */
  closeJournal(): void {
    this.#journal?.close();
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

  /** The receipt record stored under `key` (the recently written ones, and those waiting to be, from memory). */
  private async receipt(key: string): Promise<StoredReceipt | undefined> {
    const held = this.#deferred.get(this.receipts)?.get(key) ?? this.#writing?.get(this.receipts)?.get(key);
    return this.recent.get(key) ?? (held as StoredReceipt | undefined) ?? (await this.receipts.get(key));
  }

  /** Keeps a record just written (the store holds the same). */
  private remember(key: string, record: StoredReceipt): void {
    this.recent.delete(key);
    this.recent.set(key, record);
    if (this.recent.size > RECENT_RECEIPTS) this.recent.delete(this.recent.keys().next().value!);
  }

  /** The channel as it stood just before receipt `seq` (its predecessor's head). */
  private async headBefore(channel: string, seq: number): Promise<ChannelHead> {
    if (seq <= 1) return EMPTY_HEAD;
    const previous = await this.receipt(`${channel}!${pad(seq - 1)}`);
    return previous ? { seq: previous.seq, total: previous.total, hash: previous.hash } : { seq: seq - 1, total: Number.NaN, hash: null };
  }

  /**
   * Stores a receipt record, moving the head. `deferred`: held back for the next write (see `DEFERRED_WRITE_MS`);
   * `journaled`: the same once appended to the journal (written to LevelDB at once when the append fails).
   */
  private async store(jws: string, p: ReceiptPayload, extra: Partial<StoredReceipt> = {}, write: 'now' | 'deferred' | 'journaled' = 'now'): Promise<StoredReceipt> {
    const record: StoredReceipt = {
      jws, channel: p.ch, seq: p.seq, issuer: p.iss, subject: p.sub, requestId: p.rid, model: p.model, cost: p.cost,
      total: p.total, hash: receiptHash(jws), iat: p.iat, ...extra,
    };
    const head = await this.head(p.ch);
    const stats = await this.statsOf(p.ch);
    const next: ChannelHead = { seq: p.seq, total: p.total, hash: record.hash };
    const key = `${p.ch}!${pad(p.seq)}`;
    const puts: Put[] = [[this.receipts, key, record]];
    if (p.seq > head.seq) puts.push([this.heads, p.ch, next]);
    let defer = write === 'deferred';
    if (write === 'journaled') {
      try {
        this.#journal!.append(jws);
        defer = true; // held back in this same turn (below): no batch can take the puts without the journal line
      } catch {
        // The journal cannot take it: written to LevelDB before it leaves, as without a journal.
      }
    }
    await this.commit(puts, p.ch, withDelta(stats, receiptDelta(record, true)), defer);
    if (p.seq > head.seq) this.headCache.set(p.ch, next);
    this.remember(key, record);
    return record;
  }

  /**
   * Writes `puts` with the channel's new figures, atomically (with everything held back so far, before them), and
   * keeps the figures in memory. With `defer`, they are held back instead: in memory at once (heads, figures and
   * recent receipts are read from there), in LevelDB with the next write, at most `DEFERRED_WRITE_MS` later.
   */
  private async commit(puts: Put[], channel: string, stats: ChannelStats, defer = false): Promise<void> {
    puts.push([this.stats, channel, stats]);
    if (defer) {
      for (const [sublevel, key, value] of puts) this.#holdBack(sublevel, key, value);
      this.statsCache.set(channel, stats);
      return;
    }
    await this.#write(puts);
    this.statsCache.set(channel, stats);
  }

  /** `retry`: put back after a failed write, for the timer's next try (never at once: a failing store is not spun on). */
  #holdBack(sublevel: Sublevel, key: string, value: unknown, retry = false): void {
    let held = this.#deferred.get(sublevel);
    if (!held) this.#deferred.set(sublevel, (held = new Map()));
    if (!held.has(key)) this.#deferredCount++;
    held.set(key, value);
    if (this.#deferredCount >= MAX_DEFERRED_PUTS && !retry) {
      void this.flushDeferred().catch(() => undefined); // kept held back on failure: the next write takes them again
    } else if (!this.#deferredTimer) {
      this.#deferredTimer = setTimeout(() => void this.flushDeferred().catch(() => undefined), DEFERRED_WRITE_MS);
      this.#deferredTimer.unref();
    }
  }

  /** Takes what is held back (it stays readable as `#writing` until written). */
  #takeDeferred(): Map<Sublevel, Map<string, unknown>> {
    clearTimeout(this.#deferredTimer);
    this.#deferredTimer = undefined;
    const taken = new Map(this.#deferred);
    this.#deferred.clear();
    this.#deferredCount = 0;
    return taken;
  }

  /** One batch: what is held back, then `puts`; queued behind the ledger's previous write. */
  #write(puts: Put[]): Promise<void> {
    const run = async () => {
      const taken = this.#takeDeferred();
      // Taken in the same turn: every receipt journaled up to the seal has its puts in this batch (or in one written).
      const sealed = this.#journal?.seal();
      if (taken.size + puts.length === 0) return;
      const batch = this.receipts.db.batch();
      // Held-back values first: a put of the same key in `puts` is newer.
      for (const [sublevel, held] of taken) for (const [key, value] of held) batch.put(key, value, { sublevel } as never);
      for (const [sublevel, key, value] of puts) batch.put(key, value, { sublevel } as never);
      this.#writing = taken;
      try {
        await batch.write();
        if (sealed !== undefined) void this.#journal!.release(sealed).catch(() => undefined); // the next release retries
      } catch (err) {
        // Held back again for the next try, unless a newer value of the key was held back meanwhile — or the store is
        // closed (nothing can be written any more; a node's stop writes what is held back before closing it).
        if (this.receipts.db.status === 'open') {
          for (const [sublevel, held] of taken) for (const [key, value] of held) if (!this.#deferred.get(sublevel)?.has(key)) this.#holdBack(sublevel, key, value, true);
        }
        throw err;
      } finally {
        this.#writing = undefined;
      }
    };
    const written = this.#writes.then(run);
    this.#writes = written.catch(() => undefined);
    return written;
  }

  /**
   * Writes what is held back now (and waits for the ledger's writes before it). Readers that go to LevelDB itself
   * (scans, exports) call it first; a node's stop calls it before the store closes.
   */
  flushDeferred(): Promise<void> {
    return this.#write([]);
  }

  /** Rewrites one receipt record and the channel's figures in one batch. */
  private async update(key: string, record: StoredReceipt, stats: ChannelStats): Promise<void> {
    await this.commit([[this.receipts, key, record]], record.channel, stats);
    this.remember(key, record);
  }

  /** The figures of a channel (read under its lock by every writer). */
  private async statsOf(channel: string): Promise<ChannelStats> {
    await this.ensureStats();
    const cached = this.statsCache.get(channel);
    if (cached) return cached;
    const stored = (await this.stats.get(channel)) ?? EMPTY_STATS;
    this.statsCache.set(channel, stored);
    return stored;
  }

  /**
   * Per-channel figures for data written before they existed: one scan of the receipts and noted disputes, once per
   * database. Every writer awaits this before it writes, so nothing lands between the scan and the figures.
   */
  private ensureStats(): Promise<void> {
    this.statsReady ??= (async () => {
      if ((await this.meta.get('stats')) === STATS_VERSION) return;
      const figures = new Map<string, ChannelStats>();
      const add = (channel: string, delta: Partial<ChannelStats>) => figures.set(channel, withDelta(figures.get(channel) ?? EMPTY_STATS, delta));
      for await (const [key, record] of this.receipts.iterator()) add(record.channel, receiptDelta(record, !key.includes('!dispute!')));
      for await (const noted of this.notedDisputes.values()) add(noted.channel, { disputes: 1, noted: 1 });
      const batch = this.stats.db.batch();
      for (const [channel, stats] of figures) batch.put(channel, stats, { sublevel: this.stats } as never);
      batch.put('stats', STATS_VERSION, { sublevel: this.meta } as never);
      await batch.write();
    })().catch((err: unknown) => {
      this.statsReady = undefined;
      throw err;
    });
    return this.statsReady;
  }

  /** Serving side: a signed receipt for one forwarded request, chained to the channel's previous one. */
  issue(subject: string, requestId: string, model: string, usage: ReceiptPayload['usage'], price: ReceiptPayload['price']): Promise<string> {
    const channel = channelId(this.selfId, subject);
    return this.serial(channel, async () => {
      if (this.#replay) await this.#replay; // the journal's receipts are in the chain before the next one is signed
      const head = await this.head(channel);
      const cost = costMicros(usage, price);
      const payload: ReceiptPayload = {
        v: 1, iss: this.selfId, sub: subject, ch: channel, seq: head.seq + 1, rid: requestId, model, usage, price, cost,
        total: head.total + cost, prev: head.hash, iat: Date.now(),
      };
      const jws = await signReceipt(payload, this.key);
      // Stored before it leaves (protocol/receipts.md, "Transport"): journaled when there is a journal, its LevelDB write
      // then joining the ledger's next batch instead of sitting between the upstream's answer and the trailer.
      await this.store(jws, payload, {}, this.#journal ? 'journaled' : 'now');
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
    const stats = await this.statsOf(channelId(this.selfId, subject));
    return stats.micros - stats.ackedMicros + stats.disputedMicros;
  }

  /**
   * Serving side: receipts issued to `subject` that are neither acknowledged nor disputed (with `disputed`, the
   * disputed ones too: an acknowledgement of those still overrides the dispute), in sequence order.
   */
  async openReceipts(subject: string, options: { disputed?: boolean } = {}): Promise<StoredReceipt[]> {
    const channel = channelId(this.selfId, subject);
    const open: StoredReceipt[] = [];
    await this.flushDeferred();
    for await (const record of this.receipts.values({ gte: `${channel}!`, lt: `${channel}!~` })) if (!record.ack && (options.disputed || !record.dispute)) open.push(record);
    return open;
  }

  /**
   * Serving side: stores the requester's acknowledgement of a receipt this node issued. Returns false when the
   * receipt was already acknowledged (a repeat is harmless). An acknowledgement that arrives after the subject's own
   * dispute of the same receipt overrides it (the later signature is the subject's last word; it cannot take an
   * acknowledgement back, but it can withdraw a dispute): the receipt is back in the totals, the dispute kept beside it.
   */
  async recordAck(ackJws: string, from?: string): Promise<boolean> {
    const [result] = await this.recordAcks([ackJws], from);
    if (result instanceof Error) throw result;
    return result!;
  }

  /**
   * `recordAck` for the acknowledgements of one ledger message, each standing alone (one that does not verify is
   * refused, the others recorded): per channel, under its lock, in one write. Returns, in order, whether each was
   * new, or why it was refused.
   */
  async recordAcks(acks: string[], from?: string): Promise<Array<boolean | Error>> {
    const results: Array<boolean | Error> = [];
    const byChannel = new Map<string, Array<{ index: number; ack: string; key: string; seq: number }>>();
    acks.forEach((ack, index) => {
      const claimed = claimedPosition(ack);
      if (!claimed) return void (results[index] = new ReceiptError('malformed', 'acknowledgement payload does not name a channel and sequence'));
      // Only the subject of this node's own channel may acknowledge; checked before anything is queued or looked up.
      if (from !== undefined && claimed.channel !== channelId(this.selfId, from)) {
        return void (results[index] = new ReceiptError('unknown', 'acknowledgement for a channel this peer is not the subject of'));
      }
      const list = byChannel.get(claimed.channel) ?? [];
      list.push({ index, ack, key: `${claimed.channel}!${pad(claimed.seq)}`, seq: claimed.seq });
      byChannel.set(claimed.channel, list);
    });
    await Promise.all([...byChannel].map(([channel, items]) => this.serial(channel, async () => {
      let stats = await this.statsOf(channel);
      const written = new Map<string, StoredReceipt>();
      const recorded: number[] = [];
      for (const { index, ack, key, seq } of items) {
        try {
          const record = written.get(key) ?? (await this.receipt(key));
          if (!record || record.issuer !== this.selfId) throw new ReceiptError('unknown', `no receipt ${channel}#${seq} issued by this node`);
          await verifyAckSignature(ack, record.jws, record.subject);
          if (record.ack) {
            results[index] = false;
            continue;
          }
          const acked = { acked: 1, ackedMicros: record.cost };
          if (record.dispute) {
            // Only the subject can have disputed a receipt this node issued (recordDispute checks the signer).
            const { dispute, ...rest } = record;
            written.set(key, { ...rest, ack, supersededDispute: dispute });
            stats = withDelta(stats, { ...acked, disputes: -1, disputedMicros: -record.cost, receipts: 1, micros: record.cost });
          } else {
            written.set(key, { ...record, ack });
            stats = withDelta(stats, acked);
          }
          results[index] = true;
          recorded.push(index);
        } catch (err) {
          results[index] = err instanceof Error ? err : new ReceiptError('invalid', String(err));
        }
      }
      if (written.size === 0) return;
      try {
        await this.commit([...written].map(([key, record]): Put => [this.receipts, key, record]), channel, stats);
      } catch (err) {
        for (const index of recorded) results[index] = err instanceof Error ? err : new Error(String(err));
        return;
      }
      for (const [key, record] of written) this.remember(key, record);
    })));
    return results;
  }

  /**
   * Records a signed dispute from the other party of a channel (`from`, when known, must be its signer). Only a
   * dispute that names, by hash, the receipt held here at its sequence number is kept (anything else — a receipt this
   * node never issued in that form, a sequence number it does not hold — is refused, so a peer cannot fill the store
   * with disputes of nothing), and only the first one per (channel, seq). It takes the receipt out of the totals when
   * the receipt is not acknowledged; a dispute of a receipt already countersigned is kept as a noted dispute (an
   * acknowledgement cannot be taken back), at most `maxNotedPerChannel` per channel. Returns whether it was new.
   */
  async recordDispute(disputeJws: string, from?: string): Promise<boolean> {
    const dispute = await verifyDispute(disputeJws, from);
    if (!isPartyOf(dispute.ch, dispute.signer) || !isPartyOf(dispute.ch, this.selfId) || dispute.signer === this.selfId) {
      throw new ReceiptError('wrong_signer', 'dispute not signed by the other party of the channel');
    }
    const key = `${dispute.ch}!${pad(dispute.seq)}`;
    return this.serial(dispute.ch, async () => {
      const record = await this.receipt(key);
      if (!record || record.hash !== dispute.receipt) throw new ReceiptError('unknown', `dispute names no receipt held here (${dispute.ch}#${dispute.seq})`);
      if (record.dispute) return false;
      const stats = await this.statsOf(dispute.ch);
      if (!record.ack) {
        // Out of the totals, but still owed as far as the credit limit goes (see `unacknowledged`).
        await this.update(key, { ...record, dispute: { reason: dispute.reason, jws: disputeJws, at: Date.now() } }, withDelta(stats, { receipts: -1, micros: -record.cost, disputes: 1, disputedMicros: record.cost }));
        return true;
      }
      const noted = await this.note(stats, {
        channel: dispute.ch, seq: dispute.seq, requestId: dispute.rid, receipt: dispute.receipt, reason: dispute.reason, signer: dispute.signer, jws: disputeJws, at: Date.now(),
      });
      if (noted === 'full') throw new ReceiptError('limit', `channel ${dispute.ch} holds ${this.options.maxNotedPerChannel} noted disputes already`);
      return noted === 'stored';
    });
  }

  /** Keeps a noted dispute: one per (channel, seq), at most `maxNotedPerChannel` per channel. Under the channel's lock. */
  private async note(stats: ChannelStats, noted: NotedDispute): Promise<Noted> {
    const key = `${noted.channel}!${pad(noted.seq)}`;
    if (await this.notedDisputes.get(key)) return 'duplicate';
    if (stats.noted >= this.options.maxNotedPerChannel) return 'full';
    await this.commit([[this.notedDisputes, key, noted]], noted.channel, withDelta(stats, { disputes: 1, noted: 1 }));
    return 'stored';
  }

  /** Requesting side: the acknowledgements this node holds for some receipts of a channel (for the issuer that lost them). */
  async acksFor(channel: string, seqs: number[]): Promise<Array<{ seq: number; ack: string }>> {
    const out: Array<{ seq: number; ack: string }> = [];
    for (const seq of seqs) {
      const record = await this.receipt(`${channel}!${pad(seq)}`);
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
        // Only a sequence number the chain has reached can be held already (reconciliation moves the head with what
        // it imports): the next receipt, the usual case, is not looked up.
        const held = payload.seq <= (await this.head(channel)).seq ? await this.receipt(`${channel}!${pad(payload.seq)}`) : undefined;
        if (held && held.hash === receiptHash(receiptJws) && !held.ack && !held.dispute) {
          // Imported by reconciliation while its trailer was on the way: checked against the receipt before it.
          this.check(payload, await this.headBefore(channel, payload.seq), requestId, measured);
          const ack = await signAck(receiptJws, this.key, this.selfId);
          await this.update(`${channel}!${pad(payload.seq)}`, { ...held, ack }, withDelta(await this.statsOf(channel), { acked: 1, ackedMicros: held.cost }));
          return { accepted: true as const, ack, receipt: payload };
        }
        this.check(payload, await this.head(channel), requestId, measured);
        const ack = await signAck(receiptJws, this.key, this.selfId);
        // Held back and written with the others of its quarter-second, as its acknowledgement is sent in a batch.
        await this.store(receiptJws, payload, { ack }, 'deferred');
        return { accepted: true as const, ack, receipt: payload };
      } catch (err) {
        const reason = err instanceof ReceiptError ? `${err.reason}: ${err.message}` : `invalid: ${(err as Error).message}`;
        // An unverifiable receipt is filed under the position it claims (only a label: one noted dispute per claim).
        const claimed = payload?.seq ?? claimedPosition(receiptJws)?.seq ?? 1;
        const seq = Number.isSafeInteger(claimed) && claimed >= 1 ? claimed : 1;
        const hash = receiptHash(receiptJws);
        const dispute = await signDispute({ v: 1, ch: channel, seq, rid: requestId, receipt: hash, reason, iat: Date.now() }, this.key, this.selfId);
        await this.keepRefused(channel, payload, receiptJws, hash, { channel, seq, requestId, receipt: hash, reason, signer: this.selfId, jws: dispute, at: Date.now() });
        return { accepted: false as const, dispute, reason };
      }
    });
  }

  /**
   * Requesting side: what this node keeps of a receipt it refused, for the record and outside the chain (the head
   * does not move): the receipt itself when it verified and its sequence number is not held, otherwise (unverifiable,
   * or a second receipt for a held sequence number: a replay) a noted dispute. One per (channel, seq), bounded per
   * channel like noted disputes; the dispute is sent to the peer all the same.
   */
  private async keepRefused(channel: string, payload: ReceiptPayload | undefined, jws: string, hash: string, noted: NotedDispute): Promise<void> {
    const stats = await this.statsOf(channel);
    if (!payload || (await this.receipt(`${channel}!${pad(payload.seq)}`))) {
      await this.note(stats, noted);
      return;
    }
    const key = `${channel}!dispute!${pad(payload.seq)}`;
    if (stats.noted >= this.options.maxNotedPerChannel || (await this.receipt(key))) return;
    const record: StoredReceipt = {
      jws, channel, seq: payload.seq, issuer: payload.iss, subject: payload.sub, requestId: payload.rid, model: payload.model, cost: payload.cost, total: payload.total, hash, iat: payload.iat,
      dispute: { reason: noted.reason, jws: noted.jws, at: noted.at },
    };
    await this.update(key, record, withDelta(stats, receiptDelta(record, false)));
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
    await this.flushDeferred();
    for await (const record of this.receipts.values()) {
      if (peer && record.issuer !== peer && record.subject !== peer) continue;
      out.push(record);
    }
    return out;
  }

  /** Per-peer totals, from the figures kept per channel: one read per channel, whatever the number of receipts. */
  async summary(): Promise<PeerLedger[]> {
    await this.ensureStats();
    await this.flushDeferred(); // a channel whose figures are only held back is not in the scan yet
    const peers = new Map<string, PeerLedger>();
    const of = (peer: string) =>
      peers.get(peer) ?? peers.set(peer, { peer, served: { receipts: 0, totalMicros: 0, lastSeq: 0, unacknowledgedMicros: 0 }, consumed: { receipts: 0, totalMicros: 0, lastSeq: 0, claimedMicros: 0 }, balanceMicros: 0, disputes: 0 }).get(peer)!;
    for await (const [channel, stored] of this.stats.iterator()) {
      const s = this.statsCache.get(channel) ?? stored;
      const [issuer, subject] = channelParties(channel) ?? [];
      if (issuer === this.selfId && subject) {
        const p = of(subject);
        p.disputes += s.disputes;
        p.served = { receipts: s.receipts, totalMicros: s.micros, lastSeq: s.lastSeq, unacknowledgedMicros: s.micros - s.ackedMicros };
      } else if (subject === this.selfId && issuer) {
        const p = of(issuer);
        p.disputes += s.disputes;
        p.consumed = { receipts: s.acked, totalMicros: s.ackedMicros, lastSeq: s.lastSeq, claimedMicros: s.micros - s.ackedMicros };
      }
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
    await this.flushDeferred();
    for await (const [channel, head] of this.heads.iterator()) out.push({ channel, ...head });
    return out;
  }

  /** The heads of the two channels this node shares with `peer` (those it holds), without a scan of the others. */
  async headsWith(peer: string): Promise<Array<{ channel: string } & ChannelHead>> {
    const out: Array<{ channel: string } & ChannelHead> = [];
    for (const channel of [channelId(this.selfId, peer), channelId(peer, this.selfId)]) {
      // Not through `head()`: a peer asking must not make this node cache an empty head per peer id.
      const head = this.headCache.get(channel) ?? (await this.heads.get(channel));
      if (head && head.seq > 0) out.push({ channel, ...head });
    }
    return out;
  }

  /** Receipts of a channel after `seq` (with their acknowledgements), for a peer that lost them. */
  async receiptsAfter(channel: string, seq: number, limit = Number.MAX_SAFE_INTEGER): Promise<Array<{ jws: string; ack?: string }>> {
    const out: Array<{ jws: string; ack?: string }> = [];
    await this.flushDeferred();
    const range = { gt: `${channel}!${pad(seq)}`, lt: `${channel}!${pad(Number.MAX_SAFE_INTEGER)}`, limit };
    for await (const r of this.receipts.values(range)) out.push({ jws: r.jws, ...(r.ack ? { ack: r.ack } : {}) });
    return out;
  }

  /**
   * Why an imported receipt's amount cannot be taken, or undefined: its cost must follow from its usage and price
   * (the formula), and for a receipt another peer issued, each price must be at most what that peer advertises for
   * the model now, when its record says (it may have raised its price since, not charge above what it asks).
   */
  private importedAmountProblem(p: ReceiptPayload, advertisedPrice?: (model: string) => ReceiptPayload['price'] | undefined): string | undefined {
    if (p.cost !== costMicros(p.usage, p.price)) return `wrong_cost: cost ${p.cost} does not follow from usage ${p.usage.input}/${p.usage.output}/${p.usage.cached} at the stated price`;
    const advertised = p.iss === this.selfId ? undefined : advertisedPrice?.(p.model);
    if (advertised && (p.price.input > advertised.input || p.price.output > advertised.output || p.price.cached > advertised.cached)) {
      return `wrong_price: price ${p.price.input}/${p.price.output}/${p.price.cached} is above the ${advertised.input}/${advertised.output}/${advertised.cached} the issuer advertises for ${p.model}`;
    }
    return undefined;
  }

  /**
   * Imports receipts a peer sent for a channel this node is party to, verifying signatures and the hash chain from
   * this node's head. A receipt that contradicts one held here is reported, never written over.
   */
  importChannel(channel: string, items: Array<{ jws: string; ack?: string }>, advertisedPrice?: (model: string) => ReceiptPayload['price'] | undefined): Promise<ReconcileReport> {
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
        const held = await this.receipt(`${channel}!${pad(p.seq)}`);
        if (held) {
          if (held.hash !== receiptHash(item.jws)) report.conflicts.push({ seq: p.seq, reason: 'differs from the receipt held for this sequence number' });
          continue;
        }
        if (p.seq !== head.seq + 1 || p.prev !== head.hash || p.total !== head.total + p.cost) {
          report.conflicts.push({ seq: p.seq, reason: 'does not chain onto the receipts held here' });
          break;
        }
        // The amounts are checked as for a receipt in a trailer, as far as they can be without the request: a claim
        // this node never measured must still follow from its usage at a price the issuer asks.
        const mispriced = this.importedAmountProblem(p, advertisedPrice);
        if (mispriced) {
          report.conflicts.push({ seq: p.seq, reason: mispriced });
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
        // A receipt another peer issued that this node never acknowledged is only that peer's claim, and a peer can sign
        // as many as it likes: a channel holds a bounded number of them (an honest gap is a few lost trailers).
        const stats = await this.statsOf(channel);
        if (!ack && p.iss !== this.selfId && stats.receipts - stats.acked >= this.options.maxClaimsPerChannel) {
          report.conflicts.push({ seq: p.seq, reason: `claims_limit: this channel holds ${this.options.maxClaimsPerChannel} receipts this node never acknowledged already` });
          break;
        }
        const record = await this.store(item.jws, p, ack ? { ack } : {});
        head = { seq: p.seq, total: p.total, hash: record.hash };
        report.imported++;
      }
      return report;
    });
  }
}
