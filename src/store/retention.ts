import type { Logger } from 'pino';

const DAY_MS = 86_400_000;
/** Entries removed per LevelDB batch: a sweep never holds the store for long. */
const SWEEP_CHUNK = 500;

export interface RetentionOptions {
  /** Entries older than this many days are removed; 0 keeps them forever (the sweeper never runs). */
  retentionDays: number;
  /** How often the background sweep runs. */
  intervalMs: number;
  /** What is swept, for the log lines ("usage records", "stored responses"). */
  what: string;
  logger?: Logger;
  /** Removes up to `limit` entries created before `cutoff` (epoch ms) in one batch; resolves how many it removed. */
  removeChunk(cutoff: number, limit: number): Promise<number>;
}

/**
 * Background retention for a LevelDB namespace keyed (or indexed) by time: removes what is older than the retention
 * period in chunks, with a turn of the event loop between them, so a sweep never holds the store for long yet always
 * catches up, whatever the write rate. One sweep runs at a time; a failed one is logged and retried on the next tick.
 */
export class RetentionSweeper {
  readonly #options: RetentionOptions;
  #timer?: NodeJS.Timeout;
  #sweeping?: Promise<number>;
  #closed = false;

  constructor(options: RetentionOptions) {
    this.#options = options;
  }

  /** The oldest creation time that is still kept at `now`; undefined when everything is kept. */
  cutoff(now = Date.now()): number | undefined {
    return this.#options.retentionDays > 0 ? now - this.#options.retentionDays * DAY_MS : undefined;
  }

  start(): void {
    if (this.#options.retentionDays <= 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.sweep(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Removes everything older than the retention period (from `now`); resolves how many entries it removed. */
  sweep(now = Date.now()): Promise<number> {
    const cutoff = this.cutoff(now);
    if (cutoff === undefined) return Promise.resolve(0);
    this.#sweeping ??= this.#sweepOlderThan(cutoff).finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweepOlderThan(cutoff: number): Promise<number> {
    const { logger, what } = this.#options;
    let removed = 0;
    try {
      while (!this.#closed) {
        const count = await this.#options.removeChunk(cutoff, SWEEP_CHUNK);
        removed += count;
        if (count < SWEEP_CHUNK) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, `${what} retention sweep failed; will retry`);
    }
    if (removed > 0) logger?.info({ removed, cutoff }, `removed expired ${what}`);
    return removed;
  }

  /** Stops the timer and waits for a running sweep (which stops at its next chunk). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#sweeping;
  }
}
