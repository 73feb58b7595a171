import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/index.js';
import type { StoredReceipt } from '../ledger/index.js';
import { SCHEMA_VERSION } from './query-schema.js';
import { receiptRows } from './record-rows.js';
import { checkSqlText, dollarNamedParameters } from './sql-text.js';

export type SqlValue = string | number | null;
export type SqlParams = SqlValue[] | Record<string, SqlValue>;

export interface QueryResult {
  columns: string[];
  rows: SqlValue[][];
  row_count: number;
  truncated: boolean;
  elapsed_ms: number;
}

/** Where the index catches up from: the record store's keys and values. */
export interface RecordSource {
  /** Every stored record key (`<time>!<id>`), after what is queued has been written. */
  keys(): AsyncIterable<string>;
  /** The JSON text of the records stored under `keys`; keys no longer stored are left out. */
  texts(keys: string[]): Promise<string[]>;
}

export interface UsageIndexState {
  ready: boolean;
  records: number;
}

export interface UsageIndexOptions {
  /** The directory of the index file (the node's storage dir). */
  dir: string;
  /** DuckDB's memory limit in the index process (its buffer pool; the file holds the rest). */
  memoryMb: number;
  /** DuckDB's threads for a query. */
  threads: number;
  timeoutMs: number;
  maxRows: number;
  /** Rough bound on the text a result may carry before it is cut off (truncated). */
  maxBytes?: number;
  /** Queries waiting beyond this are refused (503). */
  maxQueued?: number;
  /** When written records are copied in: after this long without one, when this many wait, or this long after the first. */
  quietMs?: number;
  copyBatch?: number;
  maxWaitMs?: number;
  logger?: Logger;
}

// The source runs as .ts (Node strips the types), the build as .js: the same name beside this module.
const INDEX_PROCESS = fileURLToPath(new URL(`./index-process${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
export const INDEX_FILE = `usage-index-v${SCHEMA_VERSION}.duckdb`;
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_QUEUED = 16;
/** Record keys per catch-up message, and records read back from LevelDB at a time (to append, in one or more appends). */
const KEY_CHUNK = 20_000;
const RECORD_CHUNK = 10_000;
/**
 * An append's JSON text holds at most this many characters per MB of the index process's memory limit (1/32 of it):
 * DuckDB's JSON reader needs about five times the text while it parses the batch, inside that limit. Records of the
 * usual ~0.7 KB make a RECORD_CHUNK of ~7 MB, one append at the default 256 MB; records that fail over through several
 * targets with long upstream messages are 2-4 KB, and 6,000 of them in one text did not fit 64 MB (Out of Memory).
 */
const APPEND_CHARS_PER_MB = 32 * 1024;
/** Keys of written records waiting to be copied are held up to this many; beyond, another catch-up finds them. */
const MAX_HELD = 1_000_000;
/**
 * New records are copied into the index when the node has written none for QUIET_MS, when COPY_BATCH of them wait, or
 * at the latest MAX_WAIT_MS after the first of them — and at once when a query comes, so a query sees every record
 * written before it. Until then only each record's key is held (about 40 bytes; the record store tells the keys of
 * each batch it wrote): the records are read back from LevelDB when they are copied. So a loaded node spends none
 * of its request path on the index — holding each record's text for the copy (about 0.7 KB a request, kept past
 * the young generation) and the index process's CPU (a DuckDB commit costs it 3-6 ms however few records it holds,
 * beside about 13 µs a record) competed with the requests for the same cores; they now wait for a quiet moment,
 * and under a load that never pauses they come in batches of COPY_BATCH. A crash loses only the index's copy, which
 * the catch-up at start restores.
 */
const QUIET_MS = 1_000;
const COPY_BATCH = 20_000;
const MAX_WAIT_MS = 60_000;
/** A query not back this long after its limit (DuckDB's interrupt did not land) gets the process killed. */
const KILL_GRACE_MS = 5_000;
/** Least wait between two restarts of an index process that died, and restarts in a row before giving up. */
const RESTART_DELAY_MS = 1_000;
const MAX_RESTARTS = 5;
/** The index process's JS heap (DuckDB's memory is `memoryMb`, outside it). */
const PROCESS_HEAP_MB = 256;

type Reply = { id: number; ok: true; [key: string]: unknown } | { id: number; ok: false; code: string; message: string };

interface Pending {
  resolve: (reply: Reply & { ok: true }) => void;
  reject: (err: Error) => void;
}

/**
 * The usage index: a DuckDB file in `<dir>` kept in step with the LevelDB records (the one store of truth), owned by
 * the index process (./index-process.ts), which also runs `POST /v1/query` SQL over it. At start — and whenever the
 * index process is restarted — the index catches up: LevelDB's record keys are compared with the file's, records
 * the file lacks are copied and records LevelDB no longer has are removed, so a restart copies only what changed.
 * Records are copied in from the record store at quiet moments (QUIET_MS, COPY_BATCH, MAX_WAIT_MS) and before each query.
 */
export class UsageIndex {
  readonly path: string;
  readonly #options: Required<Omit<UsageIndexOptions, 'logger'>> & { logger?: Logger };
  /** The index process once it has opened the file and takes requests. */
  #child?: ChildProcess;
  /** The index process from the moment it is forked (close stops it even while it starts). */
  #spawned?: ChildProcess;
  #starting?: Promise<ChildProcess>;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #queued = 0;
  #queries: Promise<unknown> = Promise.resolve();
  /** The keys of written records not yet copied, one array per batch the record store wrote. */
  #held: string[][] = [];
  #heldCount = 0;
  /** When the first held batch came, and the last. */
  #firstHeldAt = 0;
  #lastHeldAt = 0;
  #copyTimer?: NodeJS.Timeout;
  /** Copies run one after another, so a query (which waits for them) sees them in the order they were written. */
  #copying: Promise<void> = Promise.resolve();
  #source?: RecordSource;
  #catchingUp?: Promise<void>;
  /** More records arrived during a catch-up than are held: run another once it ends. */
  #overflowed = false;
  /** The first batch after a catch-up may hold records the catch-up copied too. */
  #dedupeNext = false;
  #ready = false;
  #count = 0;
  #restarts = 0;
  #closed = false;

  constructor(options: UsageIndexOptions) {
    this.#options = { maxBytes: DEFAULT_MAX_BYTES, maxQueued: DEFAULT_MAX_QUEUED, quietMs: QUIET_MS, copyBatch: COPY_BATCH, maxWaitMs: MAX_WAIT_MS, ...options };
    this.path = join(options.dir, INDEX_FILE);
    removeOtherIndexFiles(options.dir);
  }

  state(): UsageIndexState {
    return { ready: this.#ready, records: this.#count };
  }

  /** The index process's id while one runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Brings the file in step with `source` (remembered for later restarts); the index is `ready` once it resolves. */
  catchUp(source: RecordSource): Promise<void> {
    this.#source = source;
    this.#catchingUp ??= this.#runCatchUp(source).finally(() => {
      this.#catchingUp = undefined;
      // The records that arrived meanwhile.
      this.flush();
    });
    return this.#catchingUp;
  }

  /**
   * The keys of a batch of records the record store has written (`RecordStore.onWritten`); the records are copied
   * into the index at a quiet moment (QUIET_MS, COPY_BATCH, MAX_WAIT_MS) or when a query comes.
   */
  add(keys: string[]): void {
    if (this.#closed || keys.length === 0) return;
    if (this.#heldCount + keys.length > MAX_HELD) {
      this.#held = [];
      this.#heldCount = 0;
      this.#overflowed = true;
    }
    const now = Date.now();
    if (this.#heldCount === 0) this.#firstHeldAt = now;
    this.#lastHeldAt = now;
    this.#held.push(keys);
    this.#heldCount += keys.length;
    if (this.#catchingUp) return;
    if (this.#heldCount >= this.#options.copyBatch) void this.flush();
    else if (!this.#copyTimer) this.#armCopyTimer(Math.min(this.#options.quietMs, this.#options.maxWaitMs));
  }

  /** How many written records wait to be copied into the index. */
  get waiting(): number {
    return this.#heldCount;
  }

  /**
   * Copies the records `add` was told of into the index (read back from the record store); resolves once the index
   * process has them committed (or the copy failed, logged: a lost batch is found again by the next catch-up).
   */
  flush(): Promise<void> {
    clearTimeout(this.#copyTimer);
    this.#copyTimer = undefined;
    const source = this.#source;
    if (this.#closed || this.#catchingUp || !this.#child || !source || this.#heldCount === 0) return this.#copying;
    const keys = this.#held.flat();
    this.#held = [];
    this.#heldCount = 0;
    const copied = this.#copying.then(() => this.#copy(source, keys));
    this.#copying = copied;
    return copied;
  }

  /**
   * Appends the records under `keys` in chunks. The first copy after a catch-up may hold records the catch-up copied
   * too: every chunk of it skips those.
   */
  async #copy(source: RecordSource, keys: string[]): Promise<void> {
    const dedupe = this.#dedupeNext;
    this.#dedupeNext = false;
    try {
      for (let start = 0; start < keys.length; start += RECORD_CHUNK) {
        await this.#append(await source.texts(keys.slice(start, start + RECORD_CHUNK)), dedupe);
      }
    } catch (err) {
      this.#options.logger?.warn({ err: (err as Error).message, records: keys.length }, 'usage index: copying records failed');
    }
  }

  /** Appends records' JSON texts, in as many appends as keep each one's text within APPEND_CHARS_PER_MB. */
  async #append(texts: string[], dedupe: boolean): Promise<void> {
    const limit = this.#options.memoryMb * APPEND_CHARS_PER_MB;
    for (let start = 0; start < texts.length;) {
      // At least one record an append, however long.
      let end = start + 1;
      let chars = texts[start]!.length;
      while (end < texts.length && chars + 1 + texts[end]!.length <= limit) chars += 1 + texts[end++]!.length;
      const reply = await this.#request({ op: 'append', records: jsonArray(texts.slice(start, end)), dedupe });
      this.#count += Number(reply.inserted);
      const leftOut = reply.leftOut as Array<string | null>;
      if (leftOut.length > 0) {
        // Each catch-up finds them missing again; LevelDB (and the records API) keeps them.
        this.#options.logger?.warn({ left_out: leftOut.length, ids: leftOut.slice(0, 20) }, 'usage index: records the index cannot take were left out (a required field missing or unreadable)');
      }
      start = end;
    }
  }

  /** The copy timer: it fires `quietMs` after the last written batch, or `maxWaitMs` after the first one held. */
  #armCopyTimer(delayMs: number): void {
    // Unref'd: an exit without close() loses only the index's copy, which the next catch-up restores.
    this.#copyTimer = setTimeout(() => {
      this.#copyTimer = undefined;
      const now = Date.now();
      const due = Math.min(this.#lastHeldAt + this.#options.quietMs, this.#firstHeldAt + this.#options.maxWaitMs);
      if (now >= due) void this.flush();
      else this.#armCopyTimer(due - now);
    }, delayMs);
    this.#copyTimer.unref();
  }

  /** Removes records (and their attempts and findings) received before `cutoff`, as the records' retention does. */
  async sweep(cutoff: number): Promise<number> {
    if (!this.#ready) return 0;
    const reply = await this.#request({ op: 'sweep', cutoff });
    this.#count -= Number(reply.removed);
    return Number(reply.removed);
  }

  /** Replaces the receipts table with the ledger's receipts (`self` is this node's peer id). */
  async replaceReceipts(receipts: StoredReceipt[], self: string): Promise<void> {
    await this.#request({ op: 'receipts', rows: receiptRows(receipts, self) });
  }

  /** Runs `sql`; `maxRows` may lower the configured row cap. Throws GatewayErrors with the codes of errors/codes.ts. */
  query(sql: string, params: SqlParams = [], maxRows = this.#options.maxRows): Promise<QueryResult> {
    const verdict = checkSqlText(sql);
    if (!verdict.ok) return Promise.reject(new GatewayError('sql_not_allowed', verdict.reason, { param: 'sql' }));
    if (this.#closed) return Promise.reject(new GatewayError('analytics_unavailable', 'The node is shutting down.'));
    if (!this.#ready || !this.#child) {
      return Promise.reject(new GatewayError('analytics_unavailable', `The usage SQL index is catching up with the records (${this.#count} so far); try again shortly.`, { retryAfter: 5 }));
    }
    if (this.#queued >= this.#options.maxQueued) {
      return Promise.reject(new GatewayError('analytics_unavailable', `${this.#queued} queries are already waiting; try again shortly.`, { retryAfter: 1 }));
    }
    this.#queued++;
    const named = Array.isArray(params) ? sql : dollarNamedParameters(sql, Object.keys(params));
    const run = this.#queries.then(() => this.#query(named, params, Math.min(maxRows, this.#options.maxRows)));
    this.#queries = run.catch(() => undefined).finally(() => this.#queued--);
    return run;
  }

  /** Sends what is queued, lets the index process finish its writes, and stops it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    // What waits is read back while the record store is still open (the gateway closes this index first).
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#copyTimer);
    const child = this.#spawned;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      // Disconnecting closes the pipe, and with it a message not yet written through: the copies' replies (they are
      // committed) come first. They always settle: answered, or refused when the process exits (or is killed).
      await this.#copying;
      // The index process finishes the writes it has, closes the file (a checkpoint) and exits when disconnected.
      if (child.connected) child.disconnect();
      await exited;
      clearTimeout(timer);
    }
    await this.#catchingUp?.catch(() => undefined);
  }

  async #runCatchUp(source: RecordSource): Promise<void> {
    this.#ready = false;
    do {
      this.#overflowed = false;
      await this.#process();
      let keys: string[] = [];
      for await (const key of source.keys()) {
        if (this.#closed) return;
        keys.push(key);
        if (keys.length === KEY_CHUNK) {
          await this.#request({ op: 'keys', keys });
          keys = [];
        }
      }
      if (keys.length > 0) await this.#request({ op: 'keys', keys });
      const diff = await this.#request({ op: 'diff' });
      const missing = diff.missing as string[];
      this.#count = Number(diff.records);
      for (let start = 0; start < missing.length; start += RECORD_CHUNK) {
        if (this.#closed) return;
        await this.#append(await source.texts(missing.slice(start, start + RECORD_CHUNK)), false);
      }
      this.#options.logger?.info({ records: this.#count, copied: missing.length, removed: Number(diff.removed) }, 'usage SQL index caught up');
    } while (this.#overflowed && !this.#closed);
    this.#ready = true;
    this.#restarts = 0;
    this.#dedupeNext = true;
  }

  async #query(sql: string, params: SqlParams, maxRows: number): Promise<QueryResult> {
    await this.flush();
    const started = performance.now();
    const child = this.#child;
    const timeoutMs = this.#options.timeoutMs;
    const killer = setTimeout(() => {
      this.#options.logger?.warn({ timeoutMs }, 'usage index: a query did not stop when interrupted; restarting the index process');
      child?.kill('SIGKILL');
    }, timeoutMs + KILL_GRACE_MS);
    try {
      const reply = await this.#request({ op: 'query', sql, params, maxRows, maxBytes: this.#options.maxBytes, timeoutMs }).catch((err: Error) => {
        if (err instanceof GatewayError && err.code === 'analytics_unavailable' && performance.now() - started >= timeoutMs) {
          throw new GatewayError('query_timeout', `The query ran longer than ${timeoutMs} ms and was stopped; narrow it (a time range, fewer joins).`);
        }
        throw err;
      });
      const rows = reply.rows as SqlValue[][];
      return { columns: reply.columns as string[], rows, row_count: rows.length, truncated: reply.truncated as boolean, elapsed_ms: Math.round(performance.now() - started) };
    } finally {
      clearTimeout(killer);
    }
  }

  #request(message: Record<string, unknown>): Promise<Reply & { ok: true }> {
    const child = this.#child;
    if (!child?.connected) return Promise.reject(new GatewayError('analytics_unavailable', 'The index process is not running.'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      child.send({ ...message, id });
    });
  }

  #onReply(reply: Reply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply);
    else if (reply.code === 'index_failed') pending.reject(new GatewayError('analytics_unavailable', `The usage index failed: ${reply.message}`));
    else pending.reject(new GatewayError(reply.code as 'invalid_sql', reply.message, { param: 'sql' }));
  }

  /** The index process, started on first use. */
  #process(): Promise<ChildProcess> {
    if (this.#closed) return Promise.reject(new GatewayError('analytics_unavailable', 'The node is shutting down.'));
    this.#starting ??= new Promise<ChildProcess>((resolve, reject) => {
      const child = fork(INDEX_PROCESS, [this.path, String(this.#options.memoryMb), String(this.#options.threads)], {
        execArgv: [`--max-old-space-size=${PROCESS_HEAP_MB}`, '--disable-warning=ExperimentalWarning'],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        // V8's serializer: an append's records travel as one JSON text, which the json channel would escape quote by
        // quote (about 3× the CPU of building and sending rows); this one copies a string's bytes as they are.
        serialization: 'advanced',
        // Nothing of the gateway's environment (provider keys among it) reaches the process that runs callers' SQL.
        env: {},
      });
      this.#spawned = child;
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        if (stderr.length < 4_096) stderr += chunk.toString('utf8');
      });
      child.on('message', (message: Reply | { ready: true; records: number }) => {
        if ('ready' in message) {
          this.#child = child;
          resolve(child);
        } else this.#onReply(message);
      });
      child.on('error', (err) => this.#options.logger?.warn({ err: err.message }, 'usage index process error'));
      child.once('exit', (code, signal) => {
        if (this.#spawned === child) this.#spawned = undefined;
        this.#child = undefined;
        this.#starting = undefined;
        const lost = new GatewayError('analytics_unavailable', `The index process stopped (${signal ?? `exit code ${code}`}).`);
        for (const pending of this.#pending.values()) pending.reject(lost);
        this.#pending.clear();
        reject(new GatewayError('analytics_unavailable', 'The index process could not start.', { cause: new Error(stderr.slice(0, 1_000)) }));
        if (this.#closed) return;
        this.#ready = false;
        this.#options.logger?.warn({ code, signal, stderr: stderr.slice(0, 1_000) }, 'usage index process exited; restarting it and catching up');
        this.#restart();
      });
    });
    return this.#starting;
  }

  /** After the index process died: a new one, then a catch-up (the file kept what was committed). */
  #restart(): void {
    const source = this.#source;
    if (!source || this.#closed) return;
    if (++this.#restarts > MAX_RESTARTS) {
      this.#options.logger?.error({ restarts: MAX_RESTARTS }, 'usage index process keeps failing; /v1/query answers 503 until the node restarts');
      return;
    }
    // A catch-up under way fails with the process; the new one starts after it.
    const previous = this.#catchingUp ?? Promise.resolve();
    setTimeout(() => {
      void previous.catch(() => undefined).then(() => (this.#closed ? undefined : this.catchUp(source))).catch((err: Error) => {
        this.#options.logger?.error({ err: err.message }, 'usage index: catch-up after a restart failed');
      });
    }, RESTART_DELAY_MS).unref();
  }
}

/** JSON texts of values as the text of one JSON array of them. */
function jsonArray(texts: string[]): string {
  return `[${texts.join(',')}]`;
}

/** Index files of other schema versions, and the SQLite index of earlier releases, are removed (derived data). */
function removeOtherIndexFiles(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith('usage-index') && !name.startsWith(INDEX_FILE)) rmSync(join(dir, name), { force: true, recursive: true });
  }
}
