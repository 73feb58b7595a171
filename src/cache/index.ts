export { cacheConfigSchema, CACHE_MODES } from './cache-config.js';
export type { CacheConfig, CacheMode } from './cache-config.js';
export type { CachedAnswer, ResponseCacheBackend } from './cache-backend.js';
export { LevelResponseCache } from './level-response-cache.js';
export type { LevelCacheLimits } from './level-response-cache.js';
export { cacheKey, cacheScope, uncacheable } from './cache-key.js';
export { canonicalOfAnswer, eventsOfResponse, replayResponse, responseOfEvents } from './cached-response.js';
export { ResponseCache, parseCacheMode } from './response-cache.js';
export { RedisResponseCache } from './redis-response-cache.js';
