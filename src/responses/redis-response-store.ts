import type { Redis } from 'ioredis';
import type { SharedRedis } from '../state/index.js';
import { itemIds, itemIn, storedResponseSchema, type FoundItem, type StoredResponse, type StoredResponses } from './response-store.js';

interface ResponseScripts {
  meshgateDeleteResponse(numKeys: number, ...args: string[]): Promise<number>;
}

/**
 * Deletes a stored response and those of its item index entries that still point at it (an item id a later turn
 * sent again names that later response). KEYS: the response, then its item keys. ARGV: the response id.
 * Returns 1 when the response was there.
 */
export const DELETE_RESPONSE_LUA = `
local existed = redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return existed
`;

export interface RedisResponseStoreOptions {
  /** Responses expire this many days after they were created (Redis drops them then); 0 keeps them. */
  retentionDays: number;
}

const DAY_MS = 86_400_000;

/**
 * Stored Responses-API objects in Redis, so a response stored at one replica is read, continued
 * (`previous_response_id`) and deleted at any other. Keys carry the owner (`{response:<owner>}`), so another
 * principal's id is simply absent, and a response and its item index are written in one transaction in one slot.
 * Retention is Redis's own expiry (`PXAT` creation + retention), not a sweeper.
 */
export class RedisResponseStore implements StoredResponses {
  private readonly keys;

  constructor(
    private readonly redis: SharedRedis,
    private readonly options: RedisResponseStoreOptions,
  ) {
    this.keys = redis.keys;
    redis.define('meshgateDeleteResponse', DELETE_RESPONSE_LUA);
  }

  /** Unreachable Redis: 503, never a false "not found" (a missing link would end a conversation that still exists). */
  private run<T>(operation: (redis: Redis) => Promise<T>): Promise<T> {
    return this.redis.run('responses', 'the stored response could not be read or written', operation);
  }

  async put(response: StoredResponse): Promise<void> {
    const value = storedResponseSchema.parse(response);
    const expiresAt = this.options.retentionDays > 0 ? value.createdAt + this.options.retentionDays * DAY_MS : undefined;
    if (expiresAt !== undefined && expiresAt <= Date.now()) return;
    await this.run(async (redis) => {
      const transaction = redis.multi();
      const set = (key: string, text: string) => (expiresAt === undefined ? transaction.set(key, text) : transaction.set(key, text, 'PXAT', expiresAt));
      set(this.keys.storedResponse(value.owner, value.id), JSON.stringify(value));
      for (const itemId of itemIds(value)) set(this.keys.storedItem(value.owner, itemId), value.id);
      const results = await transaction.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    });
  }

  async get(id: string, owner: string): Promise<StoredResponse | undefined> {
    const found = await this.run((redis) => redis.get(this.keys.storedResponse(owner, id)));
    if (found === null) return undefined;
    const response = storedResponseSchema.parse(JSON.parse(found));
    return response.owner === owner ? response : undefined;
  }

  async item(itemId: string, owner: string): Promise<FoundItem | undefined> {
    const responseId = await this.run((redis) => redis.get(this.keys.storedItem(owner, itemId)));
    const response = responseId === null ? undefined : await this.get(responseId, owner);
    return response && itemIn(response, itemId);
  }

  async delete(id: string, owner: string): Promise<boolean> {
    const found = await this.get(id, owner);
    if (!found) return false;
    const keys = [this.keys.storedResponse(owner, id), ...itemIds(found).map((itemId) => this.keys.storedItem(owner, itemId))];
    const existed = await this.run((redis) => (redis as Redis & ResponseScripts).meshgateDeleteResponse(keys.length, ...keys, id));
    return existed === 1;
  }

  async close(): Promise<void> {}
}
