import { encodeOperation, type Store } from '../store/index.js';
import { quotaWindow, type QuotaPeriod } from './quota-window.js';

/** What a limit counts; names the limit in errors and headers. */
export type QuotaMetric = 'requests' | 'tokens' | 'cost' | 'ip';

/** One limit a request counts against: `amount` units of `metric` in `scope`'s current window. */
export interface QuotaCharge {
  /** Who the counter belongs to, e.g. `token:<jti>`, `token:<jti>:ip:<addr>`, `key:<id>`, `public:ip:<addr>`. */
  scope: string;
  metric: QuotaMetric;
  limit: number;
  period: QuotaPeriod;
  amount: number;
  /** For lifetime counters of something that expires (a token): the counter may be deleted after this instant. */
  retainUntil?: number;
}

/** A counter as seen by one request: how much of the limit is used (reservations included) and when it resets. */
export interface QuotaState {
  charge: QuotaCharge;
  used: number;
  remaining: number;
  /** Epoch ms of the next window (Infinity for lifetime limits). */
  resetAt: number;
}

/** Thrown by `reserve` when a charge does not fit; nothing was reserved. */
export class QuotaExceededError extends Error {
  constructor(readonly state: QuotaState) {
    super(`${state.charge.metric} limit of ${state.charge.limit} per ${state.charge.period} reached`);
    this.name = 'QuotaExceededError';
  }
}

/** A counter as stored: `used` includes amounts still reserved by requests in flight (they count until settled). */
export interface CounterRecord {
  used: number;
  /** Epoch ms after which nobody reads the counter (its window ended, or its token expired); null = kept forever. */
  windowEnd: number | null;
}

export type QuotaWrite = { type: 'put'; key: string; value: CounterRecord } | { type: 'del'; key: string };

/** The LevelDB operations the counters need (a `Store` sublevel satisfies it). */
export interface QuotaDb {
  iterator(): AsyncIterable<[string, CounterRecord]>;
  batch(operations: QuotaWrite[]): Promise<void>;
}

interface Counter {
  record: CounterRecord;
  /** Reservations not yet settled or released; a counter with none is dropped once its window ended. */
  inFlight: number;
}

export interface QuotaReservation {
  /** Every counter right after this reservation (what the rate-limit headers show). */
  readonly states: QuotaState[];
  /**
   * Replaces the reserved amounts with the real ones, per metric (missing metrics keep their reservation).
   * The real amount may exceed the limit: that over-spend is bounded by what was in flight (README, "Running several replicas", "Over-spend bound").
   */
  settle(actual: Record<string, number | undefined>): Promise<void>;
  /** Gives back everything reserved (the request failed before using anything). */
  release(): Promise<void>;
}

/**
 * What quota admission needs of the counters: an all-or-nothing reservation, a read of one counter, and a flush.
 * `QuotaStore` (embedded LevelDB) is one backend; a shared backend for replicas (Redis) implements the same.
 */
export interface QuotaReserveOptions {
  /** The reservation's id (the request's id); a shared backend settles once per id. */
  id?: string;
  /** The token the request uses: a shared backend refuses the reservation if it was revoked meanwhile (atomically). */
  tokenId?: string;
}

export interface QuotaCounters {
  /** Reserves every charge or none; throws QuotaExceededError naming the first that does not fit. */
  reserve(charges: QuotaCharge[], options?: QuotaReserveOptions): Promise<QuotaReservation>;
  /** The counter of a charge in its current window, without reserving anything (a shared backend asks it). */
  peek(charge: Omit<QuotaCharge, 'amount'>): QuotaState | Promise<QuotaState>;
  /** Waits for pending writes; called before the store closes. */
  flush(): Promise<void>;
}

/**
 * Longest a settlement's new counter values wait to be written when no reservation's write takes them sooner (under
 * load they go with the next one). A crash within it leaves those counters at their reservations' estimates.
 */
const LAZY_WRITE_MS = 50;
/** How often counters of ended windows are swept out of memory and off disk. */
const SWEEP_INTERVAL_MS = 60_000;

interface PendingWrite {
  keys: Set<string>;
  /** A reservation waits on it (written at the end of this turn of the event loop); else it waits for the next one or LAZY_WRITE_MS. */
  urgent: boolean;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Quota counters over fixed UTC windows, persisted in the `quota` sublevel so a restart resets nothing.
 *
 * LevelDB has no compare-and-set, so the read-modify-write of a counter is serialised in this process: every live
 * counter is loaded into memory when the store opens (this process holds LevelDB's lock, so nobody else writes it;
 * counters of ended windows are deleted then), and the check-and-increment of all counters a request touches happens
 * synchronously, in one turn of the event loop — which is what makes "N concurrent requests against a limit of L
 * admit exactly L" hold. The new values are then written with one atomic `batch` (group commit: the reservations of
 * one turn of the event loop share a write, those arriving while it is in flight share the next, each writing the
 * latest value), and the request is admitted only once that write succeeded. If the write fails the increments are
 * undone and the error propagates: limits fail closed. A settlement (or release) changes the counters in memory at
 * once and nobody waits on its write: it goes with the next reservation's write, or LAZY_WRITE_MS later — so a
 * request costs one LevelDB write, not two. A crash before it is written leaves the counter at the reservation's
 * estimate (the request counts as reserved, not as used).
 */
export class QuotaStore implements QuotaCounters {
  private readonly counters = new Map<string, Counter>();
  private pending?: PendingWrite;
  /** The write loop, while one runs. */
  private draining?: Promise<void>;
  /** The write of this turn's reservations, when one is waiting to start. */
  private immediate?: NodeJS.Immediate;
  /** The write of settlements alone, when nothing else will write them sooner. */
  private lazyTimer?: NodeJS.Timeout;
  private lastSweep: number;

  private constructor(
    private readonly db: QuotaDb,
    private readonly now: () => number,
  ) {
    this.lastSweep = now();
  }

  /** Loads the live counters and deletes those whose window ended. */
  static async open(db: QuotaDb, now: () => number = Date.now): Promise<QuotaStore> {
    const quotas = new QuotaStore(db, now);
    const ended: QuotaWrite[] = [];
    const at = now();
    for await (const [key, record] of db.iterator()) {
      if (record.windowEnd !== null && record.windowEnd <= at) ended.push({ type: 'del', key });
      else quotas.counters.set(key, { record, inFlight: 0 });
    }
    if (ended.length > 0) await db.batch(ended);
    return quotas;
  }

  static forStore(store: Store, now?: () => number): Promise<QuotaStore> {
    const sublevel = store.sublevel<CounterRecord>('quota');
    // Written in their stored form (`Store.writeEncoded`): every value is new JSON text, so abstract-level's clone
    // and encoding of each operation would only repeat the work.
    const batch = (operations: QuotaWrite[]) => store.writeEncoded(operations.map((operation) => encodeOperation({ ...operation, sublevel })));
    return QuotaStore.open({ iterator: () => sublevel.iterator(), batch }, now);
  }

  /** Reserves every charge or none: throws QuotaExceededError naming the first limit that does not fit. */
  async reserve(charges: QuotaCharge[]): Promise<QuotaReservation> {
    const now = this.now();
    this.sweep(now);
    const keys = charges.map((charge) => counterKey(charge, now));
    const counters = keys.map((key, i) => this.counter(key, charges[i]!, now));
    const refused = charges.map((charge, i) => stateOf(charge, counters[i]!.record.used, now)).find((state) => !fits(state));
    if (refused) throw new QuotaExceededError(refused);
    counters.forEach((counter, i) => {
      counter.record.used += charges[i]!.amount;
      counter.inFlight += 1;
    });
    const states = charges.map((charge, i) => stateOf(charge, counters[i]!.record.used, now));
    try {
      await this.persist(keys, true);
    } catch (err) {
      counters.forEach((counter, i) => {
        counter.record.used -= charges[i]!.amount;
        counter.inFlight -= 1;
      });
      throw err;
    }
    return this.reservation(charges, keys, counters, states);
  }

  /** Current use of one counter, without reserving (for listings). */
  peek(charge: Omit<QuotaCharge, 'amount'>): QuotaState {
    const now = this.now();
    const full = { ...charge, amount: 0 };
    return stateOf(full, this.counters.get(counterKey(full, now))?.record.used ?? 0, now);
  }

  /** Resolves once every write issued so far reached LevelDB (call before closing the store). */
  async flush(): Promise<void> {
    while (this.pending || this.draining) {
      if (!this.draining) this.startDrain();
      await this.draining;
    }
  }

  private reservation(charges: QuotaCharge[], keys: string[], counters: Counter[], states: QuotaState[]): QuotaReservation {
    let done = false;
    const finish = async (amountFor: (charge: QuotaCharge) => number) => {
      if (done) return;
      done = true;
      counters.forEach((counter, i) => {
        const charge = charges[i]!;
        counter.record.used = Math.max(0, counter.record.used - charge.amount + amountFor(charge));
        counter.inFlight -= 1;
      });
      await this.persist(keys, false);
    };
    return {
      states,
      settle: (actual) => finish((charge) => actual[charge.metric] ?? charge.amount),
      release: () => finish(() => 0),
    };
  }

  private counter(key: string, charge: QuotaCharge, now: number): Counter {
    let counter = this.counters.get(key);
    if (!counter) {
      const end = quotaWindow(charge.period, now).end;
      counter = { record: { used: 0, windowEnd: Number.isFinite(end) ? end : (charge.retainUntil ?? null) }, inFlight: 0 };
      this.counters.set(key, counter);
    }
    return counter;
  }

  /** Drops counters of ended windows (nothing reads them again) from memory, and from disk with the next write. */
  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    const ended: string[] = [];
    for (const [key, counter] of this.counters) {
      if (counter.inFlight === 0 && counter.record.windowEnd !== null && counter.record.windowEnd <= now) ended.push(key);
    }
    for (const key of ended) this.counters.delete(key);
    if (ended.length > 0) void this.persist(ended, false).catch(() => undefined);
  }

  /**
   * Group commit: resolves once a batch holding the current state of `keys` reached LevelDB. `urgent` (a reservation,
   * which the request waits on): written at the end of this turn of the event loop, or right after the write in
   * flight; else with the next write, at the latest LAZY_WRITE_MS from now.
   */
  private persist(keys: string[], urgent: boolean): Promise<void> {
    if (!this.pending) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.pending = { keys: new Set(), urgent: false, promise, resolve, reject };
    }
    for (const key of keys) this.pending.keys.add(key);
    if (urgent) this.pending.urgent = true;
    const { promise } = this.pending;
    this.schedule();
    return promise;
  }

  /** Arms the start of the next write, unless the write loop runs (it takes what is pending when it can). */
  private schedule(): void {
    if (this.draining || !this.pending) return;
    if (this.pending.urgent) this.immediate ??= setImmediate(this.startDrain);
    else this.lazyTimer ??= setTimeout(this.startDrain, LAZY_WRITE_MS);
  }

  /** Reservations wait for a write (they arrived while one was in flight). */
  private reservationsWait(): boolean {
    return this.pending?.urgent === true;
  }

  private readonly startDrain = (): void => {
    clearImmediate(this.immediate);
    clearTimeout(this.lazyTimer);
    this.immediate = undefined;
    this.lazyTimer = undefined;
    this.draining ??= this.drain();
  };

  /**
   * Writes what is pending, then again while reservations wait (what arrived during a write); settlements left alone
   * get their timer. Never rejects: each batch's outcome goes to the reservations waiting on it.
   */
  private async drain(): Promise<void> {
    do {
      const write = this.pending;
      if (!write) break;
      this.pending = undefined;
      const operations = [...write.keys].map((key): QuotaWrite => {
        const counter = this.counters.get(key);
        return counter ? { type: 'put', key, value: { ...counter.record } } : { type: 'del', key };
      });
      try {
        await this.db.batch(operations);
        write.resolve();
      } catch (err) {
        write.reject(err);
      }
    } while (this.reservationsWait());
    this.draining = undefined;
    this.schedule();
  }
}

function counterKey(charge: QuotaCharge | Omit<QuotaCharge, 'amount'>, now: number): string {
  return `${charge.scope}|${charge.metric}|${charge.period}|${quotaWindow(charge.period, now).start}`;
}

function stateOf(charge: QuotaCharge, used: number, now: number): QuotaState {
  return { charge, used, remaining: Math.max(0, charge.limit - used), resetAt: quotaWindow(charge.period, now).end };
}

/**
 * A charge fits when the counter has room for the whole amount. For estimated metrics (tokens, cost) the amount is an
 * estimate; a request whose estimate is zero still needs the counter to be strictly below its limit.
 */
function fits(state: QuotaState): boolean {
  return state.used < state.charge.limit && state.used + state.charge.amount <= state.charge.limit;
}
