import type { Logger } from 'pino';
import { z } from 'zod';
import { RetentionSweeper, type Store } from '../store/index.js';

/**
 * One stored response: what the client sent this turn (input items, after sanitization), the Response object it got
 * back, and the response it continued. A `previous_response_id` chain is rebuilt by walking `previous` back.
 */
export const storedResponseSchema = z.object({
  id: z.string().min(1),
  /** `kind:id` of the principal that created it; only that principal can read, continue or delete it. */
  owner: z.string(),
  /** Epoch ms UTC. */
  createdAt: z.number().int().nonnegative(),
  previous: z.string().nullable(),
  input: z.array(z.record(z.string(), z.unknown())),
  response: z.record(z.string(), z.unknown()),
});
export type StoredResponse = z.infer<typeof storedResponseSchema>;

export interface ResponseStoreOptions {
  /** Stored responses older than this many days are removed by the background sweeper; 0 keeps them. */
  retentionDays: number;
  sweepIntervalMs?: number;
  logger?: Logger;
}

const DEFAULT_SWEEP_INTERVAL_MS = 10 * 60_000;

/** Keys of the time index sort by creation time: 15 digits of epoch ms, then the id. */
const timeKey = (createdAt: number, id: string) => `${String(createdAt).padStart(15, '0')}:${id}`;

/** The owner key of a principal: its kind and id (never a secret — ids and labels only). */
export const ownerOf = (principal: { kind: string; id?: string }) => `${principal.kind}:${principal.id ?? ''}`;

/**
 * Stored responses in LevelDB (`response` by id, `response-time` as the retention index), written atomically
 * together. Reads are scoped to the owner: a response of another principal is reported as absent, never as forbidden,
 * so ids cannot be probed.
 */
export class ResponseStore {
  readonly #store: Store;
  readonly #responses;
  readonly #byTime;
  readonly #retention: RetentionSweeper;

  private constructor(store: Store, options: ResponseStoreOptions) {
    this.#store = store;
    this.#responses = store.sublevel<StoredResponse>('response');
    this.#byTime = store.sublevel<1>('response-time');
    this.#retention = new RetentionSweeper({
      retentionDays: options.retentionDays, intervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS, what: 'stored responses', logger: options.logger,
      removeChunk: (cutoff, limit) => this.#removeExpired(cutoff, limit),
    });
  }

  static async open(store: Store, options: ResponseStoreOptions): Promise<ResponseStore> {
    const responses = new ResponseStore(store, options);
    await responses.#responses.open();
    await responses.#byTime.open();
    responses.#retention.start();
    return responses;
  }

  async put(response: StoredResponse): Promise<void> {
    const value = storedResponseSchema.parse(response);
    const previous = await this.#responses.get(value.id);
    await this.#store.db.batch([
      ...(previous ? [{ type: 'del' as const, sublevel: this.#byTime, key: timeKey(previous.createdAt, previous.id) }] : []),
      { type: 'put' as const, sublevel: this.#responses, key: value.id, value },
      { type: 'put' as const, sublevel: this.#byTime, key: timeKey(value.createdAt, value.id), value: 1 as const },
    ]);
  }

  /** The response if it exists, is the owner's and has not expired. */
  async get(id: string, owner: string, now = Date.now()): Promise<StoredResponse | undefined> {
    const found = await this.#responses.get(id);
    if (!found || found.owner !== owner) return undefined;
    // Expired but not yet swept: gone all the same.
    const cutoff = this.#retention.cutoff(now);
    if (cutoff !== undefined && found.createdAt < cutoff) return undefined;
    return found;
  }

  /** Deletes the owner's response; false when there was none to delete. */
  async delete(id: string, owner: string): Promise<boolean> {
    const found = await this.get(id, owner);
    if (!found) return false;
    await this.#store.db.batch([
      { type: 'del', sublevel: this.#responses, key: id },
      { type: 'del', sublevel: this.#byTime, key: timeKey(found.createdAt, id) },
    ]);
    return true;
  }

  /** Removes every response older than the retention period (from `now`); returns how many. */
  sweep(now = Date.now()): Promise<number> {
    return this.#retention.sweep(now);
  }

  async #removeExpired(cutoff: number, limit: number): Promise<number> {
    const expired = await this.#byTime.keys({ lt: timeKey(cutoff, ''), limit }).all();
    if (expired.length === 0) return 0;
    await this.#store.db.batch(expired.flatMap((key) => [
      { type: 'del' as const, sublevel: this.#byTime, key },
      { type: 'del' as const, sublevel: this.#responses, key: key.slice(key.indexOf(':') + 1) },
    ]));
    return expired.length;
  }

  async close(): Promise<void> {
    await this.#retention.close();
  }
}
