import type { Logger } from 'pino';
import { GatewayError } from '../errors/index.js';
import type { Ledger } from '../ledger/index.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { RecordStore } from '../records/index.js';
import type { AnalyticsConfig } from './analytics-config.js';
import { askQuestion, type AskAnswer } from './ask.js';
import { UsageIndex, type QueryResult, type SqlParams } from './usage-index.js';

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
 * SQL over this node's usage: the index (a DuckDB mirror of the LevelDB records and receipts, caught up at start in
 * the background, then copying what reaches disk at quiet moments and before each query) whose process runs read-only
 * SQL over it with row and time limits, and questions in plain language turned into SQL by the configured model.
 */
export class Analytics {
  readonly #options: AnalyticsOptions;
  readonly #index?: UsageIndex;
  readonly #rebuilt?: Promise<void>;
  #sweepTimer?: NodeJS.Timeout;
  #receiptsAt = 0;

  constructor(options: AnalyticsOptions) {
    this.#options = options;
    if (!options.config.enabled) return;
    const { config } = options;
    this.#index = new UsageIndex({
      dir: options.dataDir, memoryMb: config.memory_mb, threads: config.threads, timeoutMs: config.timeout_ms, maxRows: config.max_rows, logger: options.logger,
    });
    const records = options.records;
    this.#rebuilt = this.#index.catchUp({ keys: () => records.keys(), texts: (keys) => records.texts(keys) }).catch((err: Error) => {
      options.logger?.error({ err: err.message }, 'usage SQL index: catch-up failed; /v1/query answers 503');
    });
    if (options.retentionDays > 0) {
      this.#sweepTimer = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
      this.#sweepTimer.unref();
    }
  }

  /** Resolves once the index holds every record that was stored at start (or its catch-up failed, logged). */
  ready(): Promise<void> {
    return this.#rebuilt ?? Promise.resolve();
  }

  /** The keys of a batch the record store wrote: copied into the index at a quiet moment, or before the next query. */
  add(keys: string[]): void {
    this.#index?.add(keys);
  }

  async query(sql: string, params?: SqlParams): Promise<QueryResult> {
    const index = this.#usable();
    await this.#refreshReceipts();
    return index.query(sql, params);
  }

  async ask(question: string, signal: AbortSignal): Promise<AskAnswer> {
    const config = this.#options.config;
    // Said first: a node without a model cannot answer questions, whatever the state of its index.
    if (config.model) this.#usable();
    return askQuestion({ pipeline: this.#options.pipeline, config, query: (sql, params) => this.query(sql, params) }, question, signal);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    await this.#index?.close();
    await this.#rebuilt;
  }

  #usable(): UsageIndex {
    if (!this.#index) throw new GatewayError('analytics_unavailable', 'SQL over usage is disabled on this node (`[analytics] enabled = false`).');
    const state = this.#index.state();
    if (!state.ready) throw new GatewayError('analytics_unavailable', `The usage SQL index is catching up with the records (${state.records} so far); try again shortly.`, { retryAfter: 5 });
    return this.#index;
  }

  /** Copies the ledger's receipts into the index when the copy is older than RECEIPTS_MAX_AGE_MS. */
  async #refreshReceipts(): Promise<void> {
    const ledger = this.#options.ledger?.();
    if (!ledger || Date.now() - this.#receiptsAt < RECEIPTS_MAX_AGE_MS) return;
    try {
      const receipts = await ledger.list();
      await this.#index?.replaceReceipts(receipts, ledger.selfId);
      this.#receiptsAt = Date.now();
    } catch (err) {
      // The query still runs, over the last copy.
      this.#options.logger?.warn({ err: (err as Error).message }, 'usage SQL index: reading the ledger failed');
    }
  }

  #sweep(): void {
    this.#index?.sweep(Date.now() - this.#options.retentionDays * DAY_MS).catch((err: Error) => {
      this.#options.logger?.warn({ err: err.message }, 'usage SQL index: retention sweep failed');
    });
  }
}
