import type { Logger } from 'pino';
import type { UsageRecord } from '../records/index.js';
import type { IpcChannel } from './ipc-channel.js';

/** Records sent to the primary in one message at most; more wait for the next. */
const MAX_BATCH = 256;

/**
 * Where a worker's usage records go: to the primary, which owns the record store, in batches (one IPC message per
 * turn of the event loop, not per record). `write` resolves true once the primary has the record on disk, false if it
 * could not be written there (logged) — the RecordStore contract, so the OutcomeRecorder works unchanged.
 */
export class PrimaryRecordSink {
  #queue: Array<{ record: UsageRecord; done: (written: boolean) => void }> = [];
  #scheduled = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly channel: IpcChannel, private readonly logger: Logger) {}

  write(record: UsageRecord): Promise<boolean> {
    return new Promise((done) => {
      this.#queue.push({ record, done });
      if (this.#queue.length >= MAX_BATCH) this.#send();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#send());
      }
    });
  }

  /** Sends what is queued and waits for every batch still unanswered. */
  async flush(): Promise<void> {
    this.#send();
    await Promise.all([...this.#inFlight]);
  }

  #send(): void {
    this.#scheduled = false;
    if (this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, MAX_BATCH);
    if (this.#queue.length > 0) setImmediate(() => this.#send());
    const sent = this.channel.call<boolean[]>('records.write', batch.map((entry) => entry.record)).then(
      (written) => batch.forEach((entry, i) => entry.done(written[i] === true)),
      (err: Error) => {
        this.logger.error({ err: err.message, records: batch.length }, 'usage records could not reach the primary');
        for (const entry of batch) entry.done(false);
      },
    );
    this.#inFlight.add(sent);
    void sent.finally(() => this.#inFlight.delete(sent));
  }
}
