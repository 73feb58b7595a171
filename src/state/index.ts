export { RedisState, RevokedDuringReserveError } from './redis-state.js';
export type { RedisStateOptions } from './redis-state.js';
export { RedisKeys } from './redis-keys.js';
export type { Revocations, StateBackend, StateBackendKind, StateHealth } from './state-backend.js';
export { stateConfigSchema } from './state-config.js';
export type { StateConfig } from './state-config.js';
export { STATE_RETRY_AFTER_S, stateUnavailable } from './state-unavailable.js';
export { createState } from './create-state.js';
export type { CreateStateOptions } from './create-state.js';
