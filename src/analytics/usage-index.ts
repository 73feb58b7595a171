import { rmSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Logger } from 'pino';
import type { StoredReceipt } from '../ledger/index.js';
import type { UsageRecord } from '../records/index.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './query-schema.js';

/** Records inserted per transaction while rebuilding; a turn of the event loop between two. */
const REBUILD_CHUNK = 500;

export interface UsageIndexState {
  ready: boolean;
  records: number;
}

/**
 * The SQL mirror of the usage records (and mesh receipts) in one SQLite file, written by this process only.
 * LevelDB stays the source of truth: the file is deleted and rebuilt from it at every start, kept in step as
 * records reach disk, swept with the records' retention, and queried by a separate read-only connection
 * (./query-runner.ts). Losing it loses nothing.
 */
export class UsageIndex {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #insertRecord: StatementSync;
  readonly #insertAttempt: StatementSync;
  readonly #insertFinding: StatementSync;
  readonly #logger?: Logger;
  #pending: UsageRecord[] = [];
  #flushScheduled?: NodeJS.Immediate;
  #ready = false;
  #count = 0;
  #closed = false;

  private constructor(path: string, logger?: Logger) {
    this.path = path;
    this.#logger = logger;
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
    this.#db = new DatabaseSync(path);
    // WAL: the query process reads while this one writes. synchronous=OFF: a file rebuilt at start needs no fsync.
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;');
    this.#db.exec(SCHEMA_SQL);
    this.#db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    this.#insertRecord = this.#db.prepare(`INSERT OR IGNORE INTO records (
      id, time, project, source, principal_kind, principal_id, client_format, operation, requested_model, model, provider,
      served_by, peer, status, error_type, attempts, failovers, prompt_tokens, completion_tokens, cached_tokens,
      cache_write_tokens, reasoning_tokens, usage_estimated, cost_micros, priced, latency_ms, ttft_ms, stream, client_aborted, findings, cache
    ) VALUES (${Array(31).fill('?').join(', ')})`);
    this.#insertAttempt = this.#db.prepare('INSERT INTO attempts (record_id, time, n, target, ok, status, code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.#insertFinding = this.#db.prepare('INSERT INTO findings (record_id, time, n, type, location, action) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /** A fresh, empty index at `path` (an old file there is deleted). */
  static create(path: string, logger?: Logger): UsageIndex {
    return new UsageIndex(path, logger);
  }

  state(): UsageIndexState {
    return { ready: this.#ready, records: this.#count };
  }

  /**
   * Fills the index from `records` (every stored record, in any order). Records added meanwhile by `add` are kept:
   * a record already in the index is skipped. The index is `ready` once this resolves.
   */
  async rebuild(records: AsyncIterable<UsageRecord>): Promise<void> {
    let chunk: UsageRecord[] = [];
    for await (const record of records) {
      if (this.#closed) return;
      chunk.push(record);
      if (chunk.length === REBUILD_CHUNK) {
        this.#insert(chunk);
        chunk = [];
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (this.#closed) return;
    this.#insert(chunk);
    this.#ready = true;
    this.#logger?.info({ records: this.#count }, 'usage SQL index built');
  }

  /** Mirrors a record that is on disk; written with others at the next turn of the event loop. */
  add(record: UsageRecord): void {
    if (this.#closed) return;
    this.#pending.push(record);
    this.#flushScheduled ??= setImmediate(() => this.flush());
  }

  /** Writes the records `add` queued (queries flush first, so they see every record written before them). */
  flush(): void {
    if (this.#flushScheduled) clearImmediate(this.#flushScheduled);
    this.#flushScheduled = undefined;
    if (this.#closed || this.#pending.length === 0) return;
    this.#insert(this.#pending.splice(0));
  }

  /** Removes records (and their attempts and findings) received before `cutoff`, as the records' retention does. */
  sweep(cutoff: number): number {
    if (this.#closed) return 0;
    this.#db.exec('BEGIN');
    try {
      this.#db.prepare('DELETE FROM attempts WHERE time < ?').run(cutoff);
      this.#db.prepare('DELETE FROM findings WHERE time < ?').run(cutoff);
      const removed = Number(this.#db.prepare('DELETE FROM records WHERE time < ?').run(cutoff).changes);
      this.#db.exec('COMMIT');
      this.#count -= removed;
      return removed;
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  /** Replaces the receipts table with the ledger's receipts (`self` is this node's peer id). */
  replaceReceipts(receipts: StoredReceipt[], self: string): void {
    if (this.#closed) return;
    const insert = this.#db.prepare(`INSERT INTO receipts (channel, seq, direction, issuer, subject, request_id, model, time, cost_micros, total_micros, acknowledged, disputed)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#db.exec('BEGIN');
    try {
      this.#db.exec('DELETE FROM receipts');
      for (const r of receipts) {
        insert.run(r.channel, r.seq, r.issuer === self ? 'served' : 'consumed', r.issuer, r.subject, r.requestId, r.model, r.iat, r.cost, r.total, r.ack ? 1 : 0, r.dispute?.reason ?? null);
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#db.close();
  }

  #insert(records: UsageRecord[]): void {
    if (records.length === 0) return;
    this.#db.exec('BEGIN');
    try {
      for (const r of records) {
        const inserted = this.#insertRecord.run(
          r.id, r.time, r.project, r.source, r.principal.kind, r.principal.id, r.client_format, r.operation, r.requested_model, r.model, r.provider,
          r.served_by, r.peer, r.status, r.error_type, r.attempts.length, r.failovers, r.prompt_tokens, r.completion_tokens, r.cached_tokens,
          r.cache_write_tokens, r.reasoning_tokens ?? 0, flag(r.usage_estimated), r.cost_micros, flag(r.priced), r.latency_ms, r.ttft_ms, flag(r.stream), flag(r.client_aborted), r.findings.length,
          r.cache ?? null,
        );
        // A record is immutable once written: one seen before (live write during a rebuild) keeps its rows.
        if (Number(inserted.changes) === 0) continue;
        this.#count++;
        r.attempts.forEach((a, i) => this.#insertAttempt.run(r.id, r.time, i + 1, a.target, flag(a.ok), a.status ?? null, a.code ?? null, a.error ?? null, a.duration_ms));
        r.findings.forEach((f, i) => this.#insertFinding.run(r.id, r.time, i + 1, f.type, f.location, f.action));
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#db.exec('ROLLBACK');
      this.#logger?.error({ err: (err as Error).message, records: records.length }, 'usage SQL index: insert failed');
    }
  }
}

const flag = (value: boolean) => (value ? 1 : 0);
