import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';
import type { RedisOperation } from './redis-state.js';

/**
 * The state backend's Redis, lent to the modules that keep their own data there (stored responses, the response
 * cache): one client, one key scheme, and one way to run an operation — timed in `meshgate_state_operation_seconds`,
 * a failure or a timeout turned into 503 `state_unavailable` (naming the backend, never its address).
 */
export interface SharedRedis {
  readonly keys: RedisKeys;
  /** Defines a Lua script as a command of the shared client. */
  define(name: string, lua: string, numberOfKeys?: number): void;
  /** Runs one operation; `refused` says what the 503 means for the client ("the stored response could not be read"). */
  run<T>(operation: RedisOperation, refused: string, operationBody: (redis: Redis) => Promise<T>): Promise<T>;
}
