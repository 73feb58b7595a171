import type { Redis } from 'ioredis';
import type { CachedAnswer, LevelCacheLimits, ResponseCacheBackend } from '../cache/index.js';
import type { RedisKeys } from './redis-keys.js';
import type { RedisRunner } from './redis-response-store.js';
import { CACHE_GET_LUA, CACHE_SET_LUA } from './redis-scripts.js';

interface CacheScripts {
  meshgateCacheGet(...args: Array<string | number>): Promise<string | null>;
  meshgateCacheSet(...args: Array<string | number>): Promise<number>;
}

/**
 * The response cache in Redis, so an answer cached at one replica is a hit at every other. Entries expire at their
 * own TTL; the same caps as the embedded cache (`max_entries`, `max_bytes`, least recently used evicted first) are kept
 * by one script over the whole cache, so they hold across replicas — which puts the cache in one hash slot
 * (`{cache}`, one shard on a Redis Cluster). Cache keys are hashes that already carry the scope, never a credential.
 */
export class RedisResponseCache implements ResponseCacheBackend {
  private readonly names;

  constructor(
    private readonly run: RedisRunner,
    keys: RedisKeys,
    private readonly limits: LevelCacheLimits,
  ) {
    this.names = keys.cache();
  }

  static define(redis: Redis): void {
    redis.defineCommand('meshgateCacheGet', { numberOfKeys: 5, lua: CACHE_GET_LUA });
    redis.defineCommand('meshgateCacheSet', { numberOfKeys: 5, lua: CACHE_SET_LUA });
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    const { entry, recency, expiry, sizes, bytes, uses } = this.names;
    const value = await this.run('cache', (redis) => (redis as Redis & CacheScripts).meshgateCacheGet(recency, expiry, sizes, bytes, uses, entry, key));
    return value === null ? undefined : (JSON.parse(value) as CachedAnswer);
  }

  async set(key: string, answer: CachedAnswer, size: number): Promise<void> {
    if (size > this.limits.maxBytes) return;
    const { entry, recency, expiry, sizes, bytes, uses } = this.names;
    await this.run('cache', (redis) => (redis as Redis & CacheScripts).meshgateCacheSet(
      recency, expiry, sizes, bytes, uses, entry, key, JSON.stringify(answer), size, answer.expiresAt, this.limits.maxEntries, this.limits.maxBytes,
    ));
  }

  async close(): Promise<void> {}
}
