import { GatewayError } from '../errors/index.js';
import type { StateBackendKind } from './state-backend.js';

/** Seconds a client is told to wait when the state backend is down (Redis reconnects within about that). */
export const STATE_RETRY_AFTER_S = 2;

/**
 * The 503 for a request that needs the shared state while it is unreachable: names the backend, never its URL or
 * credentials (the cause stays in the server log only, and ioredis errors name host:port at most).
 */
export function stateUnavailable(backend: StateBackendKind, cause: unknown, refused = 'the request was refused rather than admitted without limits'): GatewayError {
  return new GatewayError('state_unavailable', `The gateway's state backend (${backend}) is unavailable, so ${refused}. Retry shortly.`, {
    retryAfter: STATE_RETRY_AFTER_S,
    cause,
  });
}
