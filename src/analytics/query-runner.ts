import { fork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/index.js';
import { QUERY_TABLES } from './query-schema.js';
import { checkSqlText } from './sql-text.js';

export type SqlValue = string | number | null;
export type SqlParams = SqlValue[] | Record<string, SqlValue>;

export interface QueryResult {
  columns: string[];
  rows: SqlValue[][];
  row_count: number;
  truncated: boolean;
  elapsed_ms: number;
}

export interface QueryRunnerOptions {
  /** The SQLite file to read (written by UsageIndex). */
  path: string;
  timeoutMs: number;
  maxRows: number;
  /** Rough bound on the text a result may carry before it is cut off (truncated). */
  maxBytes?: number;
  /** Queries waiting for the query process beyond this are refused (503). */
  maxQueued?: number;
  logger?: Logger;
}

type Reply = { id: number; ok: true; columns: string[]; rows: SqlValue[][]; truncated: boolean } | { id: number; ok: false; code: 'invalid_sql' | 'sql_not_allowed'; message: string };

// The source runs as .ts (Node strips the types), the build as .js: the same name beside this module.
const QUERY_PROCESS = fileURLToPath(new URL(`./query-process${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_QUEUED = 16;
/** Memory of the query process's JS heap; SQLite's own memory is outside it, and the process is killed with it. */
const QUERY_PROCESS_HEAP_MB = 256;

/**
 * Runs read-only SQL over the usage index in a separate process, one query at a time. The text is checked first
 * (one SELECT/WITH statement); the process checks the rest with SQLite's authorizer on a read-only connection.
 * A query over `timeoutMs` gets its process killed (the only way to stop SQLite from node:sqlite) and answers
 * 504 query_timeout; the next query starts a fresh process.
 */
export class QueryRunner {
  readonly #options: Required<Omit<QueryRunnerOptions, 'logger'>> & { logger?: Logger };
  #child?: ChildProcess;
  #ready?: Promise<ChildProcess>;
  #chain: Promise<unknown> = Promise.resolve();
  #queued = 0;
  #nextId = 1;
  #closed = false;

  constructor(options: QueryRunnerOptions) {
    this.#options = { maxBytes: DEFAULT_MAX_BYTES, maxQueued: DEFAULT_MAX_QUEUED, ...options };
  }

  /** Runs `sql`; `maxRows` may lower the configured row cap. Throws GatewayErrors with the codes of errors/codes.ts. */
  query(sql: string, params: SqlParams = [], maxRows = this.#options.maxRows): Promise<QueryResult> {
    const verdict = checkSqlText(sql);
    if (!verdict.ok) return Promise.reject(new GatewayError('sql_not_allowed', verdict.reason, { param: 'sql' }));
    if (this.#closed) return Promise.reject(new GatewayError('analytics_unavailable', 'The node is shutting down.'));
    if (this.#queued >= this.#options.maxQueued) {
      return Promise.reject(new GatewayError('analytics_unavailable', `${this.#queued} queries are already waiting; try again shortly.`, { retryAfter: 1 }));
    }
    this.#queued++;
    const run = this.#chain.then(() => this.#run(sql, params, Math.min(maxRows, this.#options.maxRows)));
    this.#chain = run.catch(() => undefined).finally(() => this.#queued--);
    return run;
  }

  /** The query process's id while one runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Stops the query process (a query in flight fails with analytics_unavailable). */
  close(): void {
    this.#closed = true;
    this.#child?.kill('SIGKILL');
    this.#child = undefined;
    this.#ready = undefined;
  }

  async #run(sql: string, params: SqlParams, maxRows: number): Promise<QueryResult> {
    const child = await this.#process();
    const id = this.#nextId++;
    const started = performance.now();
    return new Promise<QueryResult>((resolve, reject) => {
      const finish = (outcome: () => void) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        outcome();
      };
      const onMessage = (reply: Reply) => {
        if (reply.id !== id) return;
        finish(() => {
          if (!reply.ok) reject(new GatewayError(reply.code, reply.message, { param: 'sql' }));
          else resolve({ columns: reply.columns, rows: reply.rows, row_count: reply.rows.length, truncated: reply.truncated, elapsed_ms: Math.round(performance.now() - started) });
        });
      };
      const onExit = (code: number | null, signal: string | null) => {
        finish(() => reject(new GatewayError('analytics_unavailable', `The query process stopped (${signal ?? `exit code ${code}`}) while running the query.`)));
      };
      const timer = setTimeout(() => {
        this.#kill(child);
        finish(() => reject(new GatewayError('query_timeout', `The query ran longer than ${this.#options.timeoutMs} ms and was stopped; narrow it (a time range, fewer joins).`)));
      }, this.#options.timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ id, sql, params, maxRows, maxBytes: this.#options.maxBytes });
    });
  }

  #kill(child: ChildProcess): void {
    child.kill('SIGKILL');
    if (this.#child === child) {
      this.#child = undefined;
      this.#ready = undefined;
    }
  }

  /** The query process, started on first use and after one was killed or died. */
  #process(): Promise<ChildProcess> {
    if (this.#closed) return Promise.reject(new GatewayError('analytics_unavailable', 'The node is shutting down.'));
    this.#ready ??= new Promise<ChildProcess>((resolve, reject) => {
      const child = fork(QUERY_PROCESS, [this.#options.path, QUERY_TABLES.join(',')], {
        execArgv: [`--max-old-space-size=${QUERY_PROCESS_HEAP_MB}`, '--disable-warning=ExperimentalWarning'],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'json',
        // Nothing of the gateway's environment (provider keys among it) reaches the process that runs callers' SQL.
        env: {},
      });
      this.#child = child;
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        if (stderr.length < 4_096) stderr += chunk.toString('utf8');
      });
      const onExit = (code: number | null, signal: string | null) => {
        if (this.#child === child) {
          this.#child = undefined;
          this.#ready = undefined;
        }
        if (signal !== 'SIGKILL') this.#options.logger?.warn({ code, signal, stderr: stderr.slice(0, 1_000) }, 'analytics query process exited');
        reject(new GatewayError('analytics_unavailable', 'The query process could not start.', { cause: new Error(stderr.slice(0, 1_000)) }));
      };
      child.once('exit', onExit);
      child.once('message', () => resolve(child));
      child.on('error', (err) => this.#options.logger?.warn({ err: err.message }, 'analytics query process error'));
    });
    return this.#ready;
  }
}
