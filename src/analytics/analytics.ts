import { join } from 'node:path';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/index.js';
import type { Ledger } from '../ledger/index.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { RecordStore, UsageRecord } from '../records/index.js';
import type { AnalyticsConfig } from './analytics-config.js';
import { askQuestion, type AskAnswer } from './ask.js';
import { QueryRunner, type QueryResult, type SqlParams } from './query-runner.js';
import { UsageIndex } from './usage-index.js';

export const INDEX_FILE = 'usage-index.sqlite';
const DAY_MS = 86_400_000;
/** How often records past their retention are removed from the index (as the record store's sweeper does). */
const SWEEP_INTERVAL_MS = 10 * 60_000;
/** Receipts are copied from the ledger when a query comes and the copy is older than this. */
const RECEIPTS_MAX_AGE_MS = 5_000;

export interface AnalyticsOptions {
  config: AnalyticsConfig;
  dataDir: string;
  records: RecordStore;
  retentionDays: number;
  pipeline: Pick<Pipeline, 'handle'>;
  /** The mesh ledger, when the node has one (read when a query comes, so it may appear after start). */
  ledger?: () => Ledger | undefined;
  logger?: Logger;
}

/**
 * SQL over this node's usage: the index (a SQLite mirror of the LevelDB records and receipts, rebuilt at start in
 * the background and kept in step as records reach disk), the query process that runs read-only SQL over it with
 * row and time limits, and questions in plain language turned into SQL by the configured model.
 */
export class Analytics {
  readonly #options: AnalyticsOptions;
  readonly #index?: UsageIndex;
  readonly #runner?: QueryRunner;
  readonly #rebuilt?: Promise<void>;
  #sweepTimer?: NodeJS.Timeout;
  #receiptsAt = 0;

  constructor(options: AnalyticsOptions) {
    this.#options = options;
    if (!options.config.enabled) return;
    const path = join(options.dataDir, INDEX_FILE);
    this.#index = UsageIndex.create(path, options.logger);
    this.#runner = new QueryRunner({ path, timeoutMs: options.config.timeout_ms, maxRows: options.config.max_rows, logger: options.logger });
    this.#rebuilt = this.#index.rebuild(recordsOf(options.records.scan({}))).catch((err: Error) => {
      options.logger?.error({ err: err.message }, 'usage SQL index: rebuild failed; /v1/query answers 503');
    });
    if (options.retentionDays > 0) {
      this.#sweepTimer = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
      this.#sweepTimer.unref();
    }
  }

  /** Resolves once the index holds every record that was stored at start. */
  ready(): Promise<void> {
    return this.#rebuilt ?? Promise.resolve();
  }

  /** Mirrors a record as it is handed to the record store (whose queries, like these, see it at once). */
  add(record: UsageRecord): void {
    this.#index?.add(record);
  }

  async query(sql: string, params?: SqlParams): Promise<QueryResult> {
    const runner = this.#usable();
    this.#index!.flush();
    await this.#refreshReceipts();
    return runner.query(sql, params);
  }

  async ask(question: string, signal: AbortSignal): Promise<AskAnswer> {
    const config = this.#options.config;
    // Said first: a node without a model cannot answer questions, whatever the state of its index.
    if (config.model) this.#usable();
    return askQuestion({ pipeline: this.#options.pipeline, config, query: (sql, params) => this.query(sql, params) }, question, signal);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    this.#runner?.close();
    this.#index?.close();
    await this.#rebuilt;
  }

  #usable(): QueryRunner {
    if (!this.#runner || !this.#index) throw new GatewayError('analytics_unavailable', 'SQL over usage is disabled on this node (`[analytics] enabled = false`).');
    const state = this.#index.state();
    if (!state.ready) throw new GatewayError('analytics_unavailable', `The usage SQL index is being built (${state.records} records so far); try again shortly.`, { retryAfter: 5 });
    return this.#runner;
  }

  /** Copies the ledger's receipts into the index when the copy is older than RECEIPTS_MAX_AGE_MS. */
  async #refreshReceipts(): Promise<void> {
    const ledger = this.#options.ledger?.();
    if (!ledger || Date.now() - this.#receiptsAt < RECEIPTS_MAX_AGE_MS) return;
    try {
      const receipts = await ledger.list();
      this.#index?.replaceReceipts(receipts, ledger.selfId);
      this.#receiptsAt = Date.now();
    } catch (err) {
      // The query still runs, over the last copy.
      this.#options.logger?.warn({ err: (err as Error).message }, 'usage SQL index: reading the ledger failed');
    }
  }

  #sweep(): void {
    try {
      this.#index?.sweep(Date.now() - this.#options.retentionDays * DAY_MS);
    } catch (err) {
      this.#options.logger?.warn({ err: (err as Error).message }, 'usage SQL index: retention sweep failed');
    }
  }
}

async function* recordsOf(entries: AsyncIterable<[string, UsageRecord]>): AsyncGenerator<UsageRecord> {
  for await (const [, record] of entries) yield record;
}
