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

/** A stored item found by its id: the item, which side of the exchange it was on, and the response holding it. */
export interface FoundItem {
  item: Record<string, unknown>;
  from: 'input' | 'output';
  response: StoredResponse;
}

/**
 * Where stored responses live, scoped to their owner: this node's LevelDB (`ResponseStore`) or, for replicas, the
 * shared state backend (Redis). A response of another principal is reported as absent, never as forbidden, so ids
 * cannot be probed; an expired one (past the retention period) is absent too.
 */
export interface StoredResponses {
  /** Stores (or replaces) a response with its item index. */
  put(response: StoredResponse): Promise<void>;
  /** The response if it exists, is the owner's and has not expired. */
  get(id: string, owner: string): Promise<StoredResponse | undefined>;
  /** The owner's item (input or output of one of its stored responses) with this id, and the response holding it. */
  item(itemId: string, owner: string): Promise<FoundItem | undefined>;
  /** Deletes the owner's response; false when there was none to delete. */
  delete(id: string, owner: string): Promise<boolean>;
  close(): Promise<void>;
}

/** The item with this id in a stored response, output first (an id a client sent again names the later answer's). */
export function itemIn(response: StoredResponse, itemId: string): FoundItem | undefined {
  const output = Array.isArray(response.response.output) ? (response.response.output as Array<Record<string, unknown>>) : [];
  const inOutput = output.find((item) => item.id === itemId);
  if (inOutput) return { item: inOutput, from: 'output', response };
  const inInput = response.input.find((item) => item.id === itemId);
  return inInput && { item: inInput, from: 'input', response };
}

/** Ids of the items a stored response holds (its input and output), for `item_reference` look-ups. */
export function itemIds(response: StoredResponse): string[] {
  const output = Array.isArray(response.response.output) ? (response.response.output as Array<Record<string, unknown>>) : [];
  return [...response.input, ...output].map((item) => item.id).filter((id): id is string => typeof id === 'string' && id !== '');
}

/** Item index keys are per owner: a client's own input item ids can never shadow another principal's items. */
const itemKey = (owner: string, itemId: string) => `${owner}\u0000${itemId}`;

/** The owner key of a principal: its kind and id (never a secret — ids and labels only). */
export const ownerOf = (principal: { kind: string; id?: string }) => `${principal.kind}:${principal.id ?? ''}`;

/**
 * Stored responses in LevelDB (`response` by id, `response-time` as the retention index, `response-item` from an
 * owner's item id to its response, for `item_reference`), written atomically together. Reads are scoped to the owner: a response of another principal is reported as absent, never as forbidden,
 * so ids cannot be probed.
 */
export class ResponseStore implements StoredResponses {
  readonly #store: Store;
  readonly #responses;
  readonly #byTime;
  readonly #items;
  readonly #retention: RetentionSweeper;

  private constructor(store: Store, options: ResponseStoreOptions) {
    this.#store = store;
    this.#responses = store.sublevel<StoredResponse>('response');
    this.#byTime = store.sublevel<1>('response-time');
    this.#items = store.sublevel<string>('response-item');
    this.#retention = new RetentionSweeper({
      retentionDays: options.retentionDays, intervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS, what: 'stored responses', logger: options.logger,
      removeChunk: (cutoff, limit) => this.#removeExpired(cutoff, limit),
    });
  }

  static async open(store: Store, options: ResponseStoreOptions): Promise<ResponseStore> {
    const responses = new ResponseStore(store, options);
    await responses.#responses.open();
    await responses.#byTime.open();
    await responses.#items.open();
    responses.#retention.start();
    return responses;
  }

  async put(response: StoredResponse): Promise<void> {
    const value = storedResponseSchema.parse(response);
    const previous = await this.#responses.get(value.id);
    // Ids come from the upstream (or a peer): one that returns an id another principal holds must not replace it.
    if (previous && previous.owner !== value.owner) throw new Error(`response id ${value.id} is held by another principal; not stored`);
    await this.#store.db.batch([
      ...(previous ? await this.#removals(previous) : []),
      { type: 'put' as const, sublevel: this.#responses, key: value.id, value },
      { type: 'put' as const, sublevel: this.#byTime, key: timeKey(value.createdAt, value.id), value: 1 as const },
      ...itemIds(value).map((id) => ({ type: 'put' as const, sublevel: this.#items, key: itemKey(value.owner, id), value: value.id })),
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

  /** The owner's item (input or output of one of its stored responses) with this id, and the response holding it. */
  async item(itemId: string, owner: string, now = Date.now()): Promise<FoundItem | undefined> {
    const responseId = await this.#items.get(itemKey(owner, itemId));
    const response = responseId === undefined ? undefined : await this.get(responseId, owner, now);
    return response && itemIn(response, itemId);
  }

  /** Deletes the owner's response; false when there was none to delete. */
  async delete(id: string, owner: string): Promise<boolean> {
    const found = await this.get(id, owner);
    if (!found) return false;
    await this.#store.db.batch(await this.#removals(found));
    return true;
  }

  /** The batch operations that remove a response with its index entries. */
  async #removals(response: StoredResponse) {
    // An item id a client sent again in a later turn points at that later response: only this response's own go.
    const keys = itemIds(response).map((id) => itemKey(response.owner, id));
    const holders = keys.length ? await this.#items.getMany(keys) : [];
    return [
      { type: 'del' as const, sublevel: this.#responses, key: response.id },
      { type: 'del' as const, sublevel: this.#byTime, key: timeKey(response.createdAt, response.id) },
      ...keys.filter((_, i) => holders[i] === response.id).map((key) => ({ type: 'del' as const, sublevel: this.#items, key })),
    ];
  }

  /** Removes every response older than the retention period (from `now`); returns how many. */
  sweep(now = Date.now()): Promise<number> {
    return this.#retention.sweep(now);
  }

  async #removeExpired(cutoff: number, limit: number): Promise<number> {
    const expired = await this.#byTime.keys({ lt: timeKey(cutoff, ''), limit }).all();
    if (expired.length === 0) return 0;
    const responses = await this.#responses.getMany(expired.map((key) => key.slice(key.indexOf(':') + 1)));
    await this.#store.db.batch([
      // A time entry whose response is gone already (an interrupted write) is removed on its own.
      ...expired.map((key) => ({ type: 'del' as const, sublevel: this.#byTime, key })),
      ...(await Promise.all(responses.map((response) => (response ? this.#removals(response) : [])))).flat(),
    ]);
    return expired.length;
  }

  async close(): Promise<void> {
    await this.#retention.close();
  }
}
