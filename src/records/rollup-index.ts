import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import { timeKey } from './record-keys.js';
import { addToRollup, emptyRollup, type UsageRollup } from './usage-rollup.js';
import type { UsageRecord } from './usage-record.js';

/**
 * Bucket sizes: minutes (kept two days), hours and days (kept as long as the records). Each bucket is stored as two
 * values: its totals and latency histograms (small: what a time series reads, one per point) and its per-dimension
 * groups (larger: what top lists read, from the coarsest buckets that cover a window).
 */
export const GRANULARITIES = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type Granularity = keyof typeof GRANULARITIES;
const ALL_GRANULARITIES = Object.keys(GRANULARITIES) as Granularity[];
/** Coarsest first, for covering a range with as few buckets as possible. */
const COARSEST_FIRST: Granularity[] = ['day', 'hour', 'minute'];

const PREFIX: Record<Granularity, string> = { minute: 'm!', hour: 'h!', day: 'd!' };
/** Key parts: the totals (`t!`) and the groups (`g!`) of a bucket. */
const TOTALS = 't!';
const GROUPS = 'g!';
export type RollupTotals = Omit<UsageRollup, 'by'>;
/** Minute buckets older than this are removed by the sweeper; hour and day buckets follow the records' retention. */
export const MINUTE_BUCKET_RETENTION_MS = 2 * 86_400_000;
/** Present once every stored record is counted in the buckets (written with the last batch of a rebuild). */
const BUILT_KEY = 'meta!built';
/** Buckets kept in memory between batches: records arrive in time order, so the current ones are enough. */
const CACHE_SIZE = 12;
const REBUILD_CHUNK = 512;

export type RollupOperation =
  | { type: 'put'; sublevel: RollupSublevel; key: string; value: UsageRollup | 1 }
  | { type: 'del'; sublevel: RollupSublevel; key: string };
type RollupSublevel = ReturnType<Store['sublevel']>;

export function bucketStart(time: number, granularity: Granularity): number {
  const size = GRANULARITIES[granularity];
  return Math.floor(time / size) * size;
}

function bucketKey(granularity: Granularity, start: number): string {
  return `${PREFIX[granularity]}${timeKey(start)}`;
}

/** The two stored values of a bucket. */
function bucketPuts(sublevel: RollupSublevel, key: string, bucket: UsageRollup): RollupOperation[] {
  const { by, ...totals } = bucket;
  const at = key.indexOf('!') + 1;
  const [prefix, time] = [key.slice(0, at), key.slice(at)];
  return [
    { type: 'put', sublevel, key: `${prefix}${TOTALS}${time}`, value: totals as UsageRollup },
    { type: 'put', sublevel, key: `${prefix}${GROUPS}${time}`, value: { by } as unknown as UsageRollup },
  ];
}

/**
 * [from, to) as the fewest whole buckets: days inside it, then hours at its edges, then minutes (only where `from`
 * or `to` is not on an hour). Each part is [granularity, start, end).
 */
export function coverRange(from: number, to: number, levels: Granularity[] = COARSEST_FIRST): Array<[Granularity, number, number]> {
  if (from >= to) return [];
  const [level, ...finer] = levels;
  if (!level) return [];
  const size = GRANULARITIES[level];
  const start = Math.ceil(from / size) * size;
  const end = Math.floor(to / size) * size;
  if (finer.length === 0) return [[level, Math.floor(from / size) * size, Math.ceil(to / size) * size]];
  if (start >= end) return coverRange(from, to, finer);
  return [...coverRange(from, start, finer), [level, start, end], ...coverRange(end, to, finer)];
}

/**
 * The minute and hour usage buckets beside the records (sublevel `record-rollup`). The record store asks for the
 * operations that count a batch of records and writes them in the same LevelDB batch, so buckets and records never
 * disagree after a crash. Batches are serialised by the record store, which makes the read-modify-write of a
 * bucket safe; the few current buckets stay cached so a batch usually reads nothing.
 */
export class RollupIndex {
  readonly #store: Store;
  readonly #rollups: RollupSublevel;
  readonly #cache = new Map<string, UsageRollup>();
  readonly #logger?: Logger;

  constructor(store: Store, logger?: Logger) {
    this.#store = store;
    this.#rollups = store.sublevel<UsageRollup | 1>('record-rollup') as RollupSublevel;
    this.#logger = logger;
  }

  /** Opens the buckets; counts every stored record first if they were never built (a store from before them). */
  async open(records: AsyncIterable<[string, UsageRecord]>): Promise<void> {
    await this.#rollups.open();
    if ((await this.#rollups.get(BUILT_KEY)) !== undefined) return;
    const buckets = new Map<string, UsageRollup>();
    let counted = 0;
    for await (const [, record] of records) {
      for (const granularity of ALL_GRANULARITIES) {
        const key = bucketKey(granularity, bucketStart(record.time, granularity));
        let bucket = buckets.get(key);
        if (!bucket) buckets.set(key, (bucket = emptyRollup()));
        addToRollup(bucket, record);
      }
      counted++;
    }
    const entries = [...buckets];
    for (let i = 0; i < entries.length; i += REBUILD_CHUNK) {
      const puts = entries.slice(i, i + REBUILD_CHUNK).flatMap(([key, value]) => bucketPuts(this.#rollups, key, value));
      await this.#store.db.batch(puts as never);
    }
    await this.#rollups.put(BUILT_KEY, 1);
    if (counted > 0) this.#logger?.info({ records: counted, buckets: buckets.size }, 'usage buckets built from the stored records');
  }

  /**
   * The puts that count `records` into their buckets; then `commit` once the batch is on disk, or `abort` if it failed.
   * Cached buckets are counted into in place (copying a day bucket for every batch would cost more than the batch);
   * `abort` drops them from the cache, so the retry counts into the buckets as stored.
   */
  async operationsFor(records: UsageRecord[]): Promise<{ operations: RollupOperation[]; commit: () => void; abort: () => void }> {
    const updated = new Map<string, UsageRollup>();
    const missing: string[] = [];
    const byKey = new Map<string, UsageRecord[]>();
    for (const record of records) {
      for (const granularity of ALL_GRANULARITIES) {
        const key = bucketKey(granularity, bucketStart(record.time, granularity));
        let list = byKey.get(key);
        if (!list) {
          byKey.set(key, (list = []));
          if (!this.#cache.has(key)) missing.push(key);
        }
        list.push(record);
      }
    }
    const fromDisk = new Map(await Promise.all(missing.map(async (key) => [key, await this.#readBucket(key)] as const)));
    for (const [key, list] of byKey) {
      const bucket = this.#cache.get(key) ?? fromDisk.get(key) ?? emptyRollup();
      for (const record of list) addToRollup(bucket, record);
      updated.set(key, bucket);
    }
    const operations = [...updated].flatMap(([key, value]) => bucketPuts(this.#rollups, key, value));
    const commit = () => {
      for (const [key, value] of updated) {
        this.#cache.delete(key);
        this.#cache.set(key, value);
      }
      while (this.#cache.size > CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
    };
    const abort = () => {
      for (const key of updated.keys()) this.#cache.delete(key);
    };
    return { operations, commit, abort };
  }

  async #readBucket(key: string): Promise<UsageRollup | undefined> {
    const at = key.indexOf('!') + 1;
    const [prefix, time] = [key.slice(0, at), key.slice(at)];
    const [totals, groups] = await this.#rollups.getMany([`${prefix}${TOTALS}${time}`, `${prefix}${GROUPS}${time}`]);
    if (totals === undefined) return undefined;
    return { ...(totals as RollupTotals), by: (groups as Pick<UsageRollup, 'by'> | undefined)?.by ?? {} };
  }

  async #readPart<T>(granularity: Granularity, part: string, from: number, to: number): Promise<Array<[number, T]>> {
    const prefix = `${PREFIX[granularity]}${part}`;
    const rows = await this.#rollups.iterator({ gte: `${prefix}${timeKey(from)}`, lt: `${prefix}${timeKey(to)}` }).all();
    return rows.map(([key, value]) => [Number(key.slice(prefix.length)), value as T]);
  }

  /** Totals and histograms of the buckets of one granularity that start in [from, to), oldest first. */
  totals(granularity: Granularity, from: number, to: number): Promise<Array<[number, RollupTotals]>> {
    return this.#readPart(granularity, TOTALS, from, to);
  }

  /** The per-dimension groups of [from, to), read from the coarsest buckets that cover it. */
  async groups(from: number, to: number): Promise<Array<UsageRollup['by']>> {
    const parts = await Promise.all(coverRange(from, to).map(([granularity, start, end]) => this.#readPart<Pick<UsageRollup, 'by'>>(granularity, GROUPS, start, end)));
    return parts.flat().map(([, value]) => value.by);
  }

  /** Removes minute buckets older than two days and hour buckets that end before `cutoff` (0: keep hours). */
  async sweep(now: number, cutoff: number): Promise<number> {
    let removed = 0;
    const ranges: Array<[Granularity, number]> = [['minute', now - MINUTE_BUCKET_RETENTION_MS]];
    // Hours and days go once they end before the cutoff (a bucket that straddles it stays until it is all expired).
    if (cutoff > 0) for (const granularity of ['hour', 'day'] as const) ranges.push([granularity, bucketStart(cutoff, granularity) - GRANULARITIES[granularity] + 1]);
    for (const [granularity, before] of ranges) {
      for (const part of [TOTALS, GROUPS]) {
        const prefix = `${PREFIX[granularity]}${part}`;
        const keys = await this.#rollups.keys({ gte: prefix, lt: `${prefix}${timeKey(Math.max(0, before))}` }).all();
        if (keys.length === 0) continue;
        await this.#store.db.batch(keys.map((key) => ({ type: 'del' as const, sublevel: this.#rollups, key })) as never);
        if (part === TOTALS) removed += keys.length;
      }
      for (const key of [...this.#cache.keys()]) if (key.startsWith(PREFIX[granularity]) && key.slice(PREFIX[granularity].length) < timeKey(Math.max(0, before))) this.#cache.delete(key);
    }
    return removed;
  }
}
