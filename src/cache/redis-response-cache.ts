import type { Redis } from 'ioredis';
import { CLOCK_LUA, type SharedRedis } from '../state/index.js';
import type { CachedAnswer, ResponseCacheBackend } from './cache-backend.js';
import type { LevelCacheLimits } from './level-response-cache.js';

/**
 * The response cache's bookkeeping, shared by the scripts below: entries are strings expiring at their own TTL; a
 * sorted set orders them by last use, another by expiry; a hash holds each one's size and a counter their total, so
 * both caps (entries, bytes) hold across replicas. Entry keys are built from the prefix in ARGV: they share the
 * `{cache}` hash tag of the declared keys, so they sit in the same Cluster slot.
 * KEYS (both scripts): recency set, expiry set, size hash, byte total, use counter.
 */
const CACHE_LUA = `${CLOCK_LUA}
local recency, expiry, sizes, total, uses = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Recency is a counter, not the clock: two uses in one millisecond (at any replicas) still have an order.
local function used() return redis.call('INCR', uses) end
local function forget(prefix, member)
  local bytes = redis.call('HGET', sizes, member)
  if bytes then redis.call('DECRBY', total, bytes) end
  redis.call('HDEL', sizes, member)
  redis.call('ZREM', recency, member)
  redis.call('ZREM', expiry, member)
  redis.call('DEL', prefix .. member)
end
`;

/** ARGV: entry prefix, key. Returns the entry (its use recorded) or nil. */
const CACHE_GET_LUA = `${CACHE_LUA}
local prefix, member = ARGV[1], ARGV[2]
local value = redis.call('GET', prefix .. member)
if value then
  redis.call('ZADD', recency, 'XX', used(), member)
elseif redis.call('HEXISTS', sizes, member) == 1 then
  forget(prefix, member)
end
return value
`;

/**
 * Stores an entry, then evicts expired entries and the least recently used until both caps hold. ARGV: entry prefix,
 * key, value, bytes, expires-at (epoch ms), max entries, max bytes. Returns the number of entries evicted.
 */
const CACHE_SET_LUA = `${CACHE_LUA}
local prefix, member, value = ARGV[1], ARGV[2], ARGV[3]
local bytes, expiresAt, maxEntries, maxBytes = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now = redis_now()
if expiresAt <= now then return 0 end
forget(prefix, member)
redis.call('SET', prefix .. member, value, 'PXAT', expiresAt)
redis.call('ZADD', recency, used(), member)
redis.call('ZADD', expiry, expiresAt, member)
redis.call('HSET', sizes, member, bytes)
redis.call('INCRBY', total, bytes)
local evicted = 0
for _, old in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 100)) do
  forget(prefix, old)
  evicted = evicted + 1
end
while redis.call('ZCARD', recency) > maxEntries or tonumber(redis.call('GET', total) or '0') > maxBytes do
  local oldest = redis.call('ZRANGE', recency, 0, 0)[1]
  if not oldest or oldest == member then break end
  forget(prefix, oldest)
  evicted = evicted + 1
end
return evicted
`;

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
    private readonly redis: SharedRedis,
    private readonly limits: LevelCacheLimits,
  ) {
    this.names = redis.keys.cache();
    redis.define('meshgateCacheGet', CACHE_GET_LUA, 5);
    redis.define('meshgateCacheSet', CACHE_SET_LUA, 5);
  }

  /** A cache that cannot be reached is a miss and an unwritten entry: `ResponseCache` logs it and serves uncached. */
  private run<T>(operation: (redis: Redis & CacheScripts) => Promise<T>): Promise<T> {
    return this.redis.run('cache', 'the response cache could not be used', (redis) => operation(redis as Redis & CacheScripts));
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    const { entry, recency, expiry, sizes, bytes, uses } = this.names;
    const value = await this.run((redis) => redis.meshgateCacheGet(recency, expiry, sizes, bytes, uses, entry, key));
    return value === null ? undefined : (JSON.parse(value) as CachedAnswer);
  }

  async set(key: string, answer: CachedAnswer, size: number): Promise<void> {
    if (size > this.limits.maxBytes) return;
    const { entry, recency, expiry, sizes, bytes, uses } = this.names;
    await this.run((redis) => redis.meshgateCacheSet(
      recency, expiry, sizes, bytes, uses, entry, key, JSON.stringify(answer), size, answer.expiresAt, this.limits.maxEntries, this.limits.maxBytes,
    ));
  }

  async close(): Promise<void> {}
}
