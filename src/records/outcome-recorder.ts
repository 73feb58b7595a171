import type { Logger } from 'pino';
import type { ProviderType } from '../core-config/index.js';
import type { Outcome } from '../pipeline/types.js';
import type { PriceBook } from '../pricing/index.js';
import { recordedClient, usageRecordFromOutcome, type RecordedClient } from './from-outcome.js';
import type { RecordStore } from './record-store.js';
import type { UsageRecord } from './usage-record.js';

export interface OutcomeRecorderOptions {
  priceBook: PriceBook;
  /** The type of a local provider by id (a peer's price is looked up by model name alone). */
  providerType: (providerId: string | undefined) => ProviderType | undefined;
  /** The country of a client address (records name it; never the address's owner). */
  countryOf?: (ip: string) => string | undefined;
  /** Each record as it is written (metrics observe records, so /metrics and the records API agree). */
  onRecord?: (record: UsageRecord) => void;
  logger: Logger;
}

/** Turns every finished request into its priced usage record and writes it; shutdown waits for the writes. */
export class OutcomeRecorder {
  private readonly pending = new Set<Promise<boolean>>();
  /** Requests admitted whose record is not written yet: the only ones `written` waits for. */
  private readonly unrecorded = new Set<string>();
  /** Callers waiting for the record of a request still finishing (a signal sent right after its answer). */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** The client address of the last record, as records hold it. */
  private lastClient?: RecordedClient;

  constructor(
    /** The record store, or whatever writes to it (a worker process's sink to its primary). */
    private readonly store: Pick<RecordStore, 'write'>,
    private readonly options: OutcomeRecorderOptions,
  ) {}

  /** Notes a request that will be recorded (it was admitted), so `written` waits for its record. */
  expect(requestId: string): void {
    this.unrecorded.add(requestId);
  }

  /**
   * Resolves once the record of request `id` is written, or after `timeoutMs` (false then); at once (false) unless
   * the request is one this node admitted and has not recorded yet, so an unknown id is answered as fast as a known one.
   */
  written(id: string, timeoutMs: number): Promise<boolean> {
    if (!this.unrecorded.has(id)) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiters = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, waiters);
      const done = (written: boolean) => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) this.waiters.delete(id);
        resolve(written);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      waiters.add(wake);
    });
  }

  record(outcome: Outcome): void {
    try {
      const { countryOf } = this.options;
      // Consecutive requests mostly come from one address (a client's connection pool, the proxy in front): its
      // bucket and country are worked out once while it repeats. One entry: nothing to bound or expire.
      if (outcome.ip !== undefined && outcome.ip !== '' && this.lastClient?.ip !== outcome.ip) this.lastClient = recordedClient(outcome.ip, countryOf);
      const record = usageRecordFromOutcome(outcome, { priceBook: this.options.priceBook, providerType: this.options.providerType(outcome.provider), countryOf, client: this.lastClient });
      this.options.onRecord?.(record);
      void this.write(record);
    } catch (err) {
      this.unrecorded.delete(outcome.requestId);
      // A record that does not fit the schema is a bug to fix, never a reason to take the node down.
      this.options.logger.error({ err: (err as Error).message, requestId: outcome.requestId }, 'usage record refused');
    }
  }

  /**
   * Writes a record — this node's (`record`) or one built elsewhere (by a worker process, which observed it in its own
   * metrics): the same wait for `written` and `drain`, without `onRecord`. Resolves true once on disk; throws if it
   * does not fit the schema.
   */
  write(record: UsageRecord): Promise<boolean> {
    const write = this.store.write(record);
    this.pending.add(write);
    // One callback for either end (what `finally` does with two of its own and a promise more, for every request).
    const settled = () => {
      this.pending.delete(write);
      this.unrecorded.delete(record.id);
      const waiters = this.waiters.get(record.id);
      if (waiters) for (const wake of waiters) wake();
    };
    void write.then(settled, settled);
    return write;
  }

  /** Records not yet on disk. */
  get backlog(): number {
    return this.pending.size;
  }

  /** Waits until every record written so far is on disk (or refused). */
  async drain(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}
