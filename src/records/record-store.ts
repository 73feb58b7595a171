import type { Logger } from 'pino';
import { encodeOperation, type EncodedOperation, type Store } from '../store/index.js';
import { matchesFilters, type RecordFilters } from './record-filters.js';
import {
  decodeCursor, encodeCursor, projectIndexEnd, projectIndexKey, recordKey, splitProjectIndexKey, timeKey, timeOfRecordKey,
} from './record-keys.js';
import { EXPORTERS, type ExportFormat } from './record-export.js';
import { usageStats, type UsageStats } from './record-stats.js';
import { RollupIndex, type Granularity, type RollupTotals } from './rollup-index.js';
import type { UsageRollup } from './usage-rollup.js';
import { assertOwnRecord, type UsageRecord } from './usage-record.js';

export interface RecordStoreOptions {
  /** Records older than this many days are removed by the background sweeper; 0 keeps them forever. */
  retentionDays: number;
  /**
   * Longest a record waits in memory before its batch is written. 0 = group commit: a record is written as soon as
   * no other write is running, and records that arrive during a write share the next one.
   */
  flushIntervalMs: number;
  /** A batch this large is written at once instead of waiting for the interval. */
  maxBatchSize?: number;
  /** How often the retention sweeper runs. */
  sweepIntervalMs?: number;
  logger?: Logger;
}

export interface RecordPage {
  data: UsageRecord[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

export interface ProjectSummary {
  id: string;
  first_seen: number;
  last_seen: number;
}

interface Pending {
  record: UsageRecord;
  /** The record's JSON text: the stored value (what the `json` value encoding would write). */
  json: string;
  done: (persisted: boolean) => void;
}

/**
 * A read of many records once (the SQL index's read-back, `texts`): its blocks stay out of LevelDB's block cache
 * (classic-level's iterators already leave it alone; its `get` and `getMany` fill it unless told not to).
 */
const BULK_TEXT_READ = Object.freeze({ fillCache: false, valueEncoding: 'utf8' });
const DAY_MS = 86_400_000;
const NOTHING_QUEUED: Promise<void> = Promise.resolve();
const DEFAULT_MAX_BATCH = 256;
const DEFAULT_SWEEP_INTERVAL_MS = 10 * 60_000;
/** Records removed per LevelDB batch by the sweeper, and batches per sweep: a sweep never holds the db for long. */
const SWEEP_CHUNK = 500;
/** Records read per `getMany` when a query walks the project index. */
const INDEX_READ_CHUNK = 128;
/** If LevelDB keeps failing, records wait in memory up to this many, then the oldest are dropped (and logged). */
const MAX_PENDING = 100_000;
/** Most records in one LevelDB batch (a backlog after failures is written in several). */
const MAX_WRITE_BATCH = 4_096;
/** Least wait before retrying a failed write. */
const RETRY_MS = 1_000;
/**
 * Longest the usage buckets counted in memory wait before they are written (a crash before loses nothing: the
 * journal entries written with the records are counted again at open, see RollupIndex).
 */
const BUCKET_WRITE_MS = 1_000;

/**
 * Usage records in LevelDB. `write` queues a record in memory; the queue is written as ONE LevelDB batch (records
 * and project index together, atomically) when it reaches `maxBatchSize`, or `flushIntervalMs` after the first
 * queued record — with 0 (the default), as soon as the previous write is done (group commit). The promise `write`
 * returns settles once the record is on disk (LevelDB's log, which survives a killed process), so a caller that
 * awaits it before it considers the request finished loses no finished request's record in a crash. The usage buckets
 * are counted in memory and written at most BUCKET_WRITE_MS later, each batch carrying a journal entry that keeps them
 * exact across a crash (see RollupIndex). `close()` writes what is queued, buckets included. Queries flush first, so
 * they see every record written before them.
 */
export class RecordStore {
  readonly #store: Store;
  readonly #records;
  readonly #byProject;
  /** Request id → record key, so one request's record is found without a scan (signals look it up). */
  readonly #byId;
  /** The stored key prefixes of the three record sublevels (`!name!`, what abstract-level puts before each of its keys). */
  readonly #recordPrefix: string;
  readonly #byIdPrefix: string;
  readonly #byProjectPrefix: string;
  readonly #rollups: RollupIndex;
  readonly #options: Required<Omit<RecordStoreOptions, 'logger'>>;
  readonly #logger?: Logger;
  #pending: Pending[] = [];
  #flushChain: Promise<void> = Promise.resolve();
  #flushTimer?: NodeJS.Timeout;
  #bucketTimer?: NodeJS.Timeout;
  #immediate?: NodeJS.Immediate;
  #writing = false;
  /** The last write failed: retries wait for the timer (at least RETRY_MS) instead of spinning. */
  #failing = false;
  #sweepTimer?: NodeJS.Timeout;
  #sweeping?: Promise<number>;
  #closed = false;
  /** Told the keys of each batch once it is on disk (the SQL index reads them back when it next copies). */
  #onWritten?: (keys: string[]) => void;

  private constructor(store: Store, options: RecordStoreOptions) {
    this.#store = store;
    this.#records = store.sublevel<UsageRecord>('record');
    this.#byProject = store.sublevel<1>('record-project');
    this.#byId = store.sublevel<string>('record-id');
    this.#recordPrefix = this.#records.prefix;
    this.#byIdPrefix = this.#byId.prefix;
    this.#byProjectPrefix = this.#byProject.prefix;
    this.#rollups = new RollupIndex(store, options.logger);
    this.#options = {
      retentionDays: options.retentionDays,
      flushIntervalMs: options.flushIntervalMs,
      maxBatchSize: options.maxBatchSize ?? DEFAULT_MAX_BATCH,
      sweepIntervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS,
    };
    this.#logger = options.logger;
  }

  static async open(store: Store, options: RecordStoreOptions): Promise<RecordStore> {
    const recordStore = new RecordStore(store, options);
    await recordStore.#records.open();
    await recordStore.#byProject.open();
    await recordStore.#byId.open();
    await recordStore.#rollups.open(recordStore.#records.iterator(), (keys) => recordStore.#records.getMany(keys));
    recordStore.#startSweeper();
    return recordStore;
  }

  /**
   * Queues a record built by this node (`usageRecordFromOutcome`; a record from elsewhere is parsed with
   * `usageRecordSchema` first, where it arrives). Throws if it breaks the schema's rules (`assertOwnRecord`: a bug in
   * the caller, not a runtime condition). Resolves true once it is on disk, false if it could not be written
   * (logged); never rejects. `json` is `JSON.stringify(record)` when the caller has it already: stored as it is,
   * the bytes the `json` value encoding would write.
   */
  write(record: UsageRecord, json = JSON.stringify(record)): Promise<boolean> {
    assertOwnRecord(record);
    return new Promise((done) => {
      this.#pending.push({ record, json, done });
      // A full batch is written at once — unless writes are failing: then the retry timer paces them.
      if (this.#closed || (this.#pending.length >= this.#options.maxBatchSize && !this.#failing)) void this.#flushRecords();
      else this.#scheduleFlush();
    });
  }

  /**
   * `listener` is told the keys of every batch of records once it is on disk, in the order they were written (one
   * call per batch; the array is the listener's to keep). One listener: a second call replaces the first.
   */
  onWritten(listener: (keys: string[]) => void): void {
    this.#onWritten = listener;
  }

  /** Writes every queued record and the usage buckets; resolves when they are on disk (or known to have failed). */
  flush(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#writeQueued();
      await this.#writeBuckets();
    });
  }

  /** Writes every queued record (what the record queries need; the buckets follow on their own timer). */
  #flushRecords(): Promise<void> {
    return this.#enqueue(() => this.#writeQueued());
  }

  /** Runs `step` after the writes before it: record batches and bucket writes never overlap. */
  #enqueue(step: () => Promise<void>): Promise<void> {
    // The steps handle LevelDB errors themselves; the catch only keeps one unexpected throw from breaking the chain.
    this.#flushChain = this.#flushChain
      .then(step)
      .catch((err: unknown) => this.#logger?.error({ err: (err as Error).message }, 'usage record flush failed'));
    return this.#flushChain;
  }

  /** Stops the timers and writes what is queued. Does not close the Store (its owner does). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    clearTimeout(this.#bucketTimer);
    this.#bucketTimer = undefined;
    clearImmediate(this.#immediate);
    this.#immediate = undefined;
    clearInterval(this.#sweepTimer);
    await this.#sweeping;
    // A backlog is written in several batches; stop early only if writing keeps failing.
    do await this.flush();
    while (this.#pending.length > 0 && !this.#failing);
    if (this.#pending.length > 0) {
      this.#logger?.error({ lost: this.#pending.length }, 'usage records could not be written before close');
      for (const entry of this.#pending.splice(0)) entry.done(false);
    }
  }

  /**
   * Writes the next batch of what is queued. Plain promise steps rather than async frames: under group commit at one
   * connection this runs once per request, and its completion lands on the next request's path (a LevelDB write's
   * callback runs in the poll phase that undici yields to before writing an upstream request).
   */
  #writeQueued(): Promise<void> {
    if (this.#pending.length === 0) return NOTHING_QUEUED;
    this.#writing = true;
    let written: Promise<void>;
    try {
      written = this.#writeBatch(this.#pending.splice(0, MAX_WRITE_BATCH));
    } catch (err) {
      written = Promise.reject(err);
    }
    return written.then(this.#afterWrite, (err: unknown) => {
      this.#afterWrite();
      throw err;
    });
  }

  /** After each batch: the next one goes at once if a full batch waits, else as `#scheduleFlush` says. */
  readonly #afterWrite = (): void => {
    this.#writing = false;
    if (this.#pending.length >= this.#options.maxBatchSize && !this.#closed && !this.#failing) void this.#flushRecords();
    else if (this.#pending.length > 0 && !this.#closed) this.#scheduleFlush();
  };

  /** Writes one batch; never rejects (a refused batch is queued again for the retry, or reported lost after close). */
  #writeBatch(batch: Pending[]): Promise<void> {
    // Written in their stored form (keys with their sublevel's prefix, values JSON text): the record's text is made
    // once already, and abstract-level's batch would clone, encode and prefix every operation again (Store.writeEncoded).
    const operations: EncodedOperation[] = [];
    const records: UsageRecord[] = [];
    const keys: string[] = [];
    for (const { record, json } of batch) {
      const key = recordKey(record.time, record.id);
      records.push(record);
      keys.push(key);
      operations.push({ type: 'put', key: this.#recordPrefix + key, value: json }, { type: 'put', key: this.#byIdPrefix + record.id, value: JSON.stringify(key) });
      if (record.project !== null) operations.push({ type: 'put', key: this.#byProjectPrefix + projectIndexKey(record.project, key), value: '1' });
    }
    const refused = (err: unknown) => this.#refused(batch, err);
    // The buckets the records count into are read first when not in memory (rarely: records come in time order).
    const loading = this.#rollups.load(records);
    if (loading) return loading.then(() => this.#commitBatch(batch, records, keys, operations, refused), refused);
    return this.#commitBatch(batch, records, keys, operations, refused);
  }

  #commitBatch(batch: Pending[], records: UsageRecord[], keys: string[], operations: EncodedOperation[], refused: (err: unknown) => void): Promise<void> {
    // The batch's journal entry for the usage buckets goes in the same atomic batch: after a crash, buckets and
    // records agree.
    const journal = this.#rollups.journalEntry(records, keys);
    operations.push(encodeOperation(journal.operation));
    return this.#store.writeEncoded(operations).then(() => {
      journal.commit();
      this.#scheduleBucketWrite();
      this.#failing = false;
      if (this.#logger?.isLevelEnabled('debug')) this.#logger.debug({ ids: batch.map(({ record }) => record.id) }, 'usage records written');
      for (const entry of batch) entry.done(true);
      this.#onWritten?.(keys);
    }, refused);
  }

  /** A batch LevelDB refused: queued again for the retry timer (the oldest dropped past MAX_PENDING), or lost after close. */
  #refused(batch: Pending[], err: unknown): void {
    if (this.#closed) {
      // Nothing will retry after close (the store is likely closed too): report the loss instead of hanging.
      this.#logger?.error({ err: (err as Error).message, lost: batch.length }, 'usage records written after close were lost');
      for (const entry of batch) entry.done(false);
      return;
    }
    this.#failing = true;
    this.#logger?.error({ err: (err as Error).message, records: batch.length }, 'writing usage records failed; will retry');
    this.#pending.unshift(...batch);
    this.#scheduleFlush();
    const overflow = this.#pending.length - MAX_PENDING;
    if (overflow > 0) {
      this.#logger?.error({ dropped: overflow }, 'usage record queue is full; dropping the oldest records');
      for (const entry of this.#pending.splice(0, overflow)) entry.done(false);
    }
  }

  /** Writes the usage buckets counted in memory since their last write (with the journal entries they cover). */
  async #writeBuckets(): Promise<void> {
    clearTimeout(this.#bucketTimer);
    this.#bucketTimer = undefined;
    const { operations, commit } = this.#rollups.writeBuckets();
    if (operations.length === 0) return;
    try {
      await this.#store.db.batch(operations as never);
      commit();
    } catch (err) {
      // The journal still covers them: counted again at the next open if no later write succeeds.
      this.#logger?.error({ err: (err as Error).message, records: this.#rollups.unwritten }, 'writing usage buckets failed; will retry');
      if (!this.#closed) this.#scheduleBucketWrite();
    }
  }

  /** Arms the bucket timer (unref'd: the journal makes the buckets whole after an exit without it). */
  #scheduleBucketWrite(): void {
    if (this.#bucketTimer !== undefined || this.#closed) return;
    this.#bucketTimer = setTimeout(() => {
      this.#bucketTimer = undefined;
      void this.#enqueue(() => this.#writeBuckets());
    }, BUCKET_WRITE_MS);
    this.#bucketTimer.unref();
  }

  /**
   * Arms the flush timer when records are waiting. It is deliberately NOT unref'd: queued records keep the process
   * alive until they are written, while an idle store holds no timer at all.
   */
  #scheduleFlush(): void {
    if (this.#options.flushIntervalMs === 0 && !this.#failing) {
      // Group commit: written as soon as no write is running; what arrives meanwhile goes in the next batch.
      if (this.#immediate !== undefined || this.#writing) return;
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        void this.#flushRecords();
      });
      return;
    }
    if (this.#flushTimer !== undefined) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#flushRecords();
    }, this.#failing ? Math.max(RETRY_MS, this.#options.flushIntervalMs) : this.#options.flushIntervalMs);
  }

  /** Always runs: even when records are kept forever, minute buckets older than two days are removed. */
  #startSweeper(): void {
    this.#sweepTimer = setInterval(() => void this.sweep(), this.#options.sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  /**
   * Removes every record older than the retention period (from `now`), in chunks with a turn of the event loop
   * between them, so a sweep never holds the store for long yet always catches up, whatever the request rate.
   * Returns how many records it removed. Usage buckets are swept too: minutes after two days, hours with the records.
   */
  sweep(now = Date.now()): Promise<number> {
    const cutoff = this.#options.retentionDays > 0 ? now - this.#options.retentionDays * DAY_MS : 0;
    this.#sweeping ??= this.#sweepOlderThan(cutoff, now).finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweepOlderThan(cutoff: number, now: number): Promise<number> {
    let removed = 0;
    try {
      while (!this.#closed && cutoff > 0) {
        const expired = await this.#records.iterator({ lt: timeKey(cutoff), limit: SWEEP_CHUNK }).all();
        if (expired.length === 0) break;
        await this.#store.db.batch(expired.flatMap(([key, record]) => [
          { type: 'del' as const, sublevel: this.#records, key },
          { type: 'del' as const, sublevel: this.#byId, key: record.id },
          ...(record.project !== null ? [{ type: 'del' as const, sublevel: this.#byProject, key: projectIndexKey(record.project, key) }] : []),
        ]));
        removed += expired.length;
        if (expired.length < SWEEP_CHUNK) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.#logger?.warn({ err: (err as Error).message }, 'usage record retention sweep failed; will retry');
    }
    try {
      await this.#rollups.sweep(now, cutoff);
    } catch (err) {
      this.#logger?.warn({ err: (err as Error).message }, 'usage bucket sweep failed; will retry');
    }
    if (removed > 0) this.#logger?.info({ removed, cutoff }, 'removed expired usage records');
    return removed;
  }

  /** The record of one request (written before this call), or undefined. */
  async get(id: string): Promise<UsageRecord | undefined> {
    await this.#flushRecords();
    const key = await this.#byId.get(id);
    return key === undefined ? undefined : this.#records.get(key);
  }

  /** Records matching `filters`, newest first, `limit` per page. */
  async list(filters: RecordFilters, cursor?: string, limit = 100): Promise<RecordPage> {
    const before = cursor === undefined ? undefined : decodeCursor(cursor);
    if (cursor !== undefined && before === undefined) throw new RangeError('invalid cursor');
    const data: UsageRecord[] = [];
    let lastKey: string | undefined;
    let more = false;
    for await (const [key, record] of this.scan(filters, { newestFirst: true, before })) {
      if (data.length === limit) {
        more = true;
        break;
      }
      data.push(record);
      lastKey = key;
    }
    return { data, next_cursor: more && lastKey !== undefined ? encodeCursor(lastKey) : null };
  }

  /** Every record key (`<time>!<id>`), oldest first, after what is queued has been written (the SQL index compares them with its own). */
  async *keys(): AsyncGenerator<string> {
    await this.#flushRecords();
    for await (const key of this.#records.keys()) yield key;
  }

  /** The records stored under `keys`, in their order; keys no longer stored are left out. */
  async getMany(keys: string[]): Promise<UsageRecord[]> {
    const records = await this.#records.getMany(keys);
    return records.filter((record): record is UsageRecord => record !== undefined);
  }

  /**
   * The stored JSON text of the records under `keys`, in their order, without parsing it; keys no longer stored are
   * left out. The SQL index reads every record back once this way: its blocks do not go into LevelDB's block cache,
   * which would otherwise fill to its 8 MB of native memory with blocks nothing reads again.
   */
  async texts(keys: string[]): Promise<string[]> {
    const texts = await this.#records.getMany<string, string>(keys, BULK_TEXT_READ);
    return texts.filter((text): text is string => text !== undefined);
  }

  /** Every record in `filters`' range that matches them, as [key, record], oldest first unless `newestFirst`. */
  async *scan(
    filters: RecordFilters,
    options: { newestFirst?: boolean; before?: string } = {},
  ): AsyncGenerator<[string, UsageRecord]> {
    await this.#flushRecords();
    const lower = timeKey(filters.from ?? 0);
    const upper = options.before ?? timeKey(filters.to ?? Number.MAX_SAFE_INTEGER);
    const reverse = options.newestFirst ?? false;
    const entries = filters.project === undefined
      ? this.#records.iterator({ gte: lower, lt: upper, reverse })
      : this.#projectRecords(filters.project, lower, upper, reverse);
    for await (const [key, record] of entries) {
      if (matchesFilters(record, filters)) yield [key, record];
    }
  }

  async *#projectRecords(project: string, lower: string, upper: string, reverse: boolean): AsyncGenerator<[string, UsageRecord]> {
    const indexKeys = this.#byProject.keys({ gte: projectIndexKey(project, lower), lt: projectIndexKey(project, upper), reverse });
    let chunk: string[] = [];
    for await (const indexKey of indexKeys) {
      chunk.push(splitProjectIndexKey(indexKey).key);
      if (chunk.length === INDEX_READ_CHUNK) {
        yield* this.#readRecords(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) yield* this.#readRecords(chunk);
  }

  async *#readRecords(keys: string[]): AsyncGenerator<[string, UsageRecord]> {
    const records = await this.#records.getMany(keys);
    for (let i = 0; i < keys.length; i++) {
      const record = records[i];
      if (record !== undefined) yield [keys[i]!, record];
    }
  }

  /**
   * Projects that have records, with the time of their first and last; only those with a record in the last
   * `activeSinceMins` minutes when given. Walks the project index by seeking past each project, so it costs a
   * few reads per project, not per record.
   */
  async projects(activeSinceMins?: number, now = Date.now()): Promise<ProjectSummary[]> {
    await this.#flushRecords();
    const cutoff = activeSinceMins === undefined ? 0 : now - activeSinceMins * 60_000;
    const summaries: ProjectSummary[] = [];
    const iterator = this.#byProject.keys();
    try {
      for (let first = await iterator.next(); first !== undefined; first = await iterator.next()) {
        const { project, key } = splitProjectIndexKey(first);
        const [last] = await this.#byProject.keys({ lt: projectIndexEnd(project), reverse: true, limit: 1 }).all();
        const lastSeen = timeOfRecordKey(splitProjectIndexKey(last ?? first).key);
        if (lastSeen >= cutoff) summaries.push({ id: project, first_seen: timeOfRecordKey(key), last_seen: lastSeen });
        iterator.seek(projectIndexEnd(project));
      }
    } finally {
      await iterator.close();
    }
    return summaries;
  }

  /** Totals and breakdowns (model, provider, source, project, principal, peer) of the records matching `filters`. */
  stats(filters: RecordFilters = {}): Promise<UsageStats> {
    return usageStats(recordsOf(this.scan(filters)), filters);
  }

  /**
   * Usage of [from, to) from the buckets (after writing what is queued): the totals of each `granularity` bucket
   * (a time series) and the per-dimension groups of the whole range (top lists), read from the coarsest buckets.
   */
  async rollups(granularity: Granularity, from: number, to: number): Promise<{ totals: Array<[number, RollupTotals]>; groups: Array<UsageRollup['by']> }> {
    await this.flush();
    const [totals, groups] = await Promise.all([this.#rollups.totals(granularity, from, to), this.#rollups.groups(from, to)]);
    return { totals, groups };
  }

  /** The records matching `filters`, oldest first, streamed as NDJSON or CSV text chunks. */
  export(filters: RecordFilters, format: ExportFormat): AsyncGenerator<string> {
    return EXPORTERS[format](recordsOf(this.scan(filters)));
  }
}

async function* recordsOf(entries: AsyncIterable<[string, UsageRecord]>): AsyncGenerator<UsageRecord> {
  for await (const [, record] of entries) yield record;
}
