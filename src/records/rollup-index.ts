import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import { timeKey } from './record-keys.js';
import { addEntryToRollup, emptyRollup, rollupEntry, type UsageRollup } from './usage-rollup.js';
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
/** Clean buckets kept in memory between batches: records arrive in time order, so the current ones are enough. */
const CACHE_SIZE = 12;
/** Key prefix of the journal entries (see RollupIndex), and the digits of their sequence number (so they sort). */
const JOURNAL = 'j!';
const JOURNAL_DIGITS = 12;
const REBUILD_CHUNK = 512;

export type RollupOperation =
  | { type: 'put'; sublevel: RollupSublevel; key: string; value: UsageRollup | 1 | string[] }
  | { type: 'del'; sublevel: RollupSublevel; key: string };
type RollupSublevel = ReturnType<Store['sublevel']>;

export function bucketStart(time: number, granularity: Granularity): number {
  const size = GRANULARITIES[granularity];
  return Math.floor(time / size) * size;
}

/** The last key made per granularity: records arrive in time order, so most share their buckets with the one before. */
const lastBucketKey: Record<Granularity, { start: number; key: string }> = {
  minute: { start: -1, key: '' }, hour: { start: -1, key: '' }, day: { start: -1, key: '' },
};

function bucketKey(granularity: Granularity, start: number): string {
  const last = lastBucketKey[granularity];
  if (last.start !== start) {
    last.key = `${PREFIX[granularity]}${timeKey(start)}`;
    last.start = start;
  }
  return last.key;
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
 * The minute, hour and day usage buckets beside the records (sublevel `record-rollup`). Buckets are counted in
 * memory and written at most once a second (`writeBuckets`), not with every batch of records: each bucket is a few
 * kB of JSON, and a batch under group commit is often one record. What keeps buckets and records in agreement
 * after a crash is the journal: each batch of records carries one small entry (`j!<seq>` → the batch's record keys,
 * in the same atomic LevelDB batch), and the write of the buckets deletes the entries it counted. `open` counts the
 * records of the entries left by a crash into the buckets, so no record is counted twice or never. Batches and
 * bucket writes are serialised by the record store, which makes the read-modify-write of a bucket safe.
 */
export class RollupIndex {
  readonly #store: Store;
  readonly #rollups: RollupSublevel;
  /** Buckets in memory: the dirty ones (counted, not yet written) and a few recent clean ones (so a batch reads nothing). */
  readonly #cache = new Map<string, UsageRollup>();
  readonly #dirty = new Set<string>();
  /** Journal entries whose records are counted in memory only. */
  #journal: string[] = [];
  #journaledRecords = 0;
  #seq = 0;
  readonly #logger?: Logger;

  constructor(store: Store, logger?: Logger) {
    this.#store = store;
    this.#rollups = store.sublevel<UsageRollup | 1 | string[]>('record-rollup') as RollupSublevel;
    this.#logger = logger;
  }

  /** Records counted in memory and not yet in the stored buckets (their journal entries are on disk). */
  get unwritten(): number {
    return this.#journaledRecords;
  }

  /**
   * Opens the buckets: counts every stored record first if they were never built (a store from before them), else
   * the records of the journal entries a crash left (counted in memory, never written).
   */
  async open(records: AsyncIterable<[string, UsageRecord]>, recordsAt: (keys: string[]) => Promise<Array<UsageRecord | undefined>>): Promise<void> {
    await this.#rollups.open();
    const journal = await this.#rollups.iterator({ gte: JOURNAL, lt: `${JOURNAL}~` }).all() as Array<[string, string[]]>;
    const clearJournal = journal.map(([key]) => ({ type: 'del' as const, sublevel: this.#rollups, key }));
    if ((await this.#rollups.get(BUILT_KEY)) !== undefined) {
      if (journal.length > 0) await this.#replay(journal, recordsAt, clearJournal);
      return;
    }
    const buckets = new Map<string, UsageRollup>();
    let counted = 0;
    for await (const [, record] of records) {
      const entry = rollupEntry(record);
      for (const granularity of ALL_GRANULARITIES) {
        const key = bucketKey(granularity, bucketStart(record.time, granularity));
        let bucket = buckets.get(key);
        if (!bucket) buckets.set(key, (bucket = emptyRollup()));
        addEntryToRollup(bucket, entry);
      }
      counted++;
    }
    const entries = [...buckets];
    for (let i = 0; i < entries.length; i += REBUILD_CHUNK) {
      const puts = entries.slice(i, i + REBUILD_CHUNK).flatMap(([key, value]) => bucketPuts(this.#rollups, key, value));
      await this.#store.db.batch(puts as never);
    }
    // Every record is counted now, those of a journal too.
    await this.#store.db.batch([...clearJournal, { type: 'put', sublevel: this.#rollups, key: BUILT_KEY, value: 1 }] as never);
    if (counted > 0) this.#logger?.info({ records: counted, buckets: buckets.size }, 'usage buckets built from the stored records');
  }

  /** Counts the records of the journal entries left by a crash into the stored buckets, and deletes the entries. */
  async #replay(journal: Array<[string, string[]]>, recordsAt: (keys: string[]) => Promise<Array<UsageRecord | undefined>>, clearJournal: RollupOperation[]): Promise<void> {
    // A record swept since its batch was journaled is gone: its hour and day buckets are swept with it.
    const records = (await recordsAt(journal.flatMap(([, keys]) => keys))).filter((record): record is UsageRecord => record !== undefined);
    await this.#load(this.#bucketKeysOf(records));
    this.#count(records);
    const { operations, commit } = this.writeBuckets();
    await this.#store.db.batch([...operations, ...clearJournal] as never);
    commit();
    this.#logger?.info({ records: records.length, batches: journal.length }, 'usage buckets: counted the records written since their last write (the node had stopped without writing them)');
  }

  /**
   * Reads the buckets `records` count into that are not in memory, before `journalEntry`; undefined when all are
   * (records come in time order: mostly nothing to wait for).
   */
  load(records: UsageRecord[]): Promise<void> | undefined {
    return this.#load(this.#bucketKeysOf(records));
  }

  /**
   * The operation a batch of records adds (its journal entry: their keys), once `load` has read their buckets;
   * `commit` once the batch is on disk counts them in memory (a refused batch counts nothing, so its retry counts once).
   */
  journalEntry(records: UsageRecord[], recordKeys: string[]): { operation: RollupOperation; commit: () => void } {
    const key = `${JOURNAL}${String(this.#seq++).padStart(JOURNAL_DIGITS, '0')}`;
    const operation: RollupOperation = { type: 'put', sublevel: this.#rollups, key, value: recordKeys };
    const commit = () => {
      this.#count(records);
      this.#journal.push(key);
      this.#journaledRecords += records.length;
    };
    return { operation, commit };
  }

  /**
   * The puts of every bucket counted since the last write and the deletes of the journal entries they count, for
   * one atomic batch; `commit` once it is on disk. Nothing to write: no operations.
   */
  writeBuckets(): { operations: RollupOperation[]; commit: () => void } {
    const journal = this.#journal;
    const dirty = [...this.#dirty];
    const records = this.#journaledRecords;
    const operations: RollupOperation[] = [
      ...dirty.flatMap((key) => bucketPuts(this.#rollups, key, this.#cache.get(key)!)),
      ...journal.map((key) => ({ type: 'del' as const, sublevel: this.#rollups, key })),
    ];
    const commit = () => {
      // The record store runs this write in line with the batches, so nothing was counted while it ran.
      this.#journal = this.#journal.slice(journal.length);
      this.#journaledRecords -= records;
      for (const key of dirty) this.#dirty.delete(key);
      this.#evict();
    };
    return { operations, commit };
  }

  /** The keys of the buckets `records` count into. */
  #bucketKeysOf(records: UsageRecord[]): Set<string> {
    const keys = new Set<string>();
    for (const record of records) {
      for (const granularity of ALL_GRANULARITIES) keys.add(bucketKey(granularity, bucketStart(record.time, granularity)));
    }
    return keys;
  }

  /** Reads the buckets of `keys` that are not in memory; undefined when all are (mostly: nothing to wait for). */
  #load(keys: Set<string>): Promise<void> | undefined {
    let missing: string[] | undefined;
    for (const key of keys) if (!this.#cache.has(key)) (missing ??= []).push(key);
    return missing && this.#read(missing);
  }

  async #read(missing: string[]): Promise<void> {
    const read = await Promise.all(missing.map(async (key) => [key, await this.#readBucket(key)] as const));
    for (const [key, bucket] of read) if (!this.#cache.has(key)) this.#cache.set(key, bucket ?? emptyRollup());
  }

  /** Counts `records` into their buckets in memory (loaded by `#load` before). */
  #count(records: UsageRecord[]): void {
    const counted = new Map<string, UsageRollup>();
    for (const record of records) {
      // Read once, counted into the record's minute, hour and day.
      const entry = rollupEntry(record);
      for (const granularity of ALL_GRANULARITIES) {
        const key = bucketKey(granularity, bucketStart(record.time, granularity));
        let bucket = counted.get(key) ?? this.#cache.get(key);
        if (!bucket) this.#cache.set(key, (bucket = emptyRollup()));
        counted.set(key, bucket);
        addEntryToRollup(bucket, entry);
      }
    }
    for (const [key, bucket] of counted) {
      // Most recently used last: the eviction drops the oldest clean buckets first.
      this.#cache.delete(key);
      this.#cache.set(key, bucket);
      this.#dirty.add(key);
    }
  }

  /** Drops the least recently used clean buckets beyond CACHE_SIZE (dirty ones stay until written). */
  #evict(): void {
    let excess = this.#cache.size - CACHE_SIZE;
    for (const key of this.#cache.keys()) {
      if (excess <= 0) break;
      if (this.#dirty.has(key)) continue;
      this.#cache.delete(key);
      excess--;
    }
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
      for (const key of [...this.#cache.keys()]) {
        if (key.startsWith(PREFIX[granularity]) && key.slice(PREFIX[granularity].length) < timeKey(Math.max(0, before))) {
          this.#cache.delete(key);
          this.#dirty.delete(key);
        }
      }
    }
    return removed;
  }
}
