// RedisState itself is loaded by createState only when [state] backend = "redis" (ioredis costs ~10 MB at start).
export type { RedisOperation, RedisState, RedisStateOptions } from './redis-state.js';
export { RevokedDuringReserveError } from './redis-quota-counters.js';
export type { SharedRedis } from './shared-redis.js';
export { CLOCK_LUA } from './redis-scripts.js';
export { RedisKeys } from './redis-keys.js';
export type { Revocations, StateBackend, StateBackendKind, StateHealth } from './state-backend.js';
export { stateConfigSchema } from './state-config.js';
export type { StateConfig } from './state-config.js';
export { STATE_RETRY_AFTER_S, stateUnavailable } from './state-unavailable.js';
export { createState } from './create-state.js';
export type { CreateStateOptions } from './create-state.js';
