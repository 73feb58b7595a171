import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import { timeKey } from './record-keys.js';
import { addToRollup, copyRollup, emptyRollup, type UsageRollup } from './usage-rollup.js';
import type { UsageRecord } from './usage-record.js';

/** Bucket sizes: minutes (kept two days: the hour and day views) and hours (kept as long as the records). */
export const GRANULARITIES = { minute: 60_000, hour: 3_600_000 } as const;
export type Granularity = keyof typeof GRANULARITIES;

const PREFIX: Record<Granularity, string> = { minute: 'm!', hour: 'h!' };
/** Minute buckets older than this are removed by the sweeper; hour buckets follow the records' retention. */
export const MINUTE_BUCKET_RETENTION_MS = 2 * 86_400_000;
/** Present once every stored record is counted in the buckets (written with the last batch of a rebuild). */
const BUILT_KEY = 'meta!built';
/** Buckets kept in memory between batches: records arrive in time order, so the current ones are enough. */
const CACHE_SIZE = 8;
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
      for (const granularity of ['minute', 'hour'] as const) {
        const key = bucketKey(granularity, bucketStart(record.time, granularity));
        let bucket = buckets.get(key);
        if (!bucket) buckets.set(key, (bucket = emptyRollup()));
        addToRollup(bucket, record);
      }
      counted++;
    }
    const entries = [...buckets];
    for (let i = 0; i < entries.length; i += REBUILD_CHUNK) {
      const puts: RollupOperation[] = entries.slice(i, i + REBUILD_CHUNK).map(([key, value]) => ({ type: 'put', sublevel: this.#rollups, key, value }));
      await this.#store.db.batch(puts as never);
    }
    await this.#rollups.put(BUILT_KEY, 1);
    if (counted > 0) this.#logger?.info({ records: counted, buckets: buckets.size }, 'usage buckets built from the stored records');
  }

  /**
   * The puts that count `records` into their buckets, and `commit` to call once the batch is on disk (the cache is
   * updated only then, so a failed batch is retried against the buckets as stored).
   */
  async operationsFor(records: UsageRecord[]): Promise<{ operations: RollupOperation[]; commit: () => void }> {
    const updated = new Map<string, UsageRollup>();
    const missing: string[] = [];
    const byKey = new Map<string, UsageRecord[]>();
    for (const record of records) {
      for (const granularity of ['minute', 'hour'] as const) {
        const key = bucketKey(granularity, bucketStart(record.time, granularity));
        let list = byKey.get(key);
        if (!list) {
          byKey.set(key, (list = []));
          if (!this.#cache.has(key)) missing.push(key);
        }
        list.push(record);
      }
    }
    const stored = missing.length > 0 ? await this.#rollups.getMany(missing) : [];
    const fromDisk = new Map(missing.map((key, i) => [key, stored[i] as UsageRollup | undefined]));
    for (const [key, list] of byKey) {
      const base = this.#cache.get(key) ?? fromDisk.get(key);
      const bucket = base ? copyRollup(base) : emptyRollup();
      for (const record of list) addToRollup(bucket, record);
      updated.set(key, bucket);
    }
    const operations: RollupOperation[] = [...updated].map(([key, value]) => ({ type: 'put', sublevel: this.#rollups, key, value }));
    const commit = () => {
      for (const [key, value] of updated) {
        this.#cache.delete(key);
        this.#cache.set(key, value);
      }
      while (this.#cache.size > CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
    };
    return { operations, commit };
  }

  /** Buckets of one granularity that start in [from, to), oldest first. */
  async read(granularity: Granularity, from: number, to: number): Promise<Array<[number, UsageRollup]>> {
    const prefix = PREFIX[granularity];
    const rows = await this.#rollups.iterator({ gte: `${prefix}${timeKey(from)}`, lt: `${prefix}${timeKey(to)}` }).all();
    return rows.map(([key, value]) => [Number(key.slice(prefix.length)), value as UsageRollup]);
  }

  /** Removes minute buckets older than two days and hour buckets that end before `cutoff` (0: keep hours). */
  async sweep(now: number, cutoff: number): Promise<number> {
    let removed = 0;
    const ranges: Array<[Granularity, number]> = [['minute', now - MINUTE_BUCKET_RETENTION_MS]];
    if (cutoff > 0) ranges.push(['hour', bucketStart(cutoff, 'hour') - GRANULARITIES.hour + 1]);
    for (const [granularity, before] of ranges) {
      const prefix = PREFIX[granularity];
      const keys = await this.#rollups.keys({ gte: prefix, lt: `${prefix}${timeKey(Math.max(0, before))}` }).all();
      if (keys.length === 0) continue;
      await this.#store.db.batch(keys.map((key) => ({ type: 'del' as const, sublevel: this.#rollups, key })) as never);
      for (const key of keys) this.#cache.delete(key);
      removed += keys.length;
    }
    return removed;
  }
}
