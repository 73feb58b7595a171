import type { QuotaCounters } from '../policy/index.js';
import type { CircuitStateStore } from '../router/shared-circuit-breaker.js';
import type { SharedRedis } from './shared-redis.js';

export type StateBackendKind = 'embedded' | 'redis';

/** What `/health` shows of the state backend (never its URL or credentials). */
export interface StateHealth {
  backend: StateBackendKind;
  /** `ok`; `unavailable` (requests needing it are refused); `local` (counting per replica: on_unavailable = "local"). */
  status: 'ok' | 'unavailable' | 'local';
  /** Round trip of the last state operation, ms (Redis only). */
  latency_ms?: number;
}

/** The revocation list every replica checks on every request of a token. */
export interface Revocations {
  isRevoked(tokenId: string): Promise<boolean>;
  /** `until`: when the token expires (the entry may go then); null = kept. */
  revoke(tokenId: string, at: number, until: number | null): Promise<void>;
}

/**
 * The state replicas of one gateway share, behind one interface: quota counters and reservations, revocations and
 * circuit-breaker state, stored Responses objects and the response cache. Embedded (this node's LevelDB, one process) or Redis (every replica); the pipeline never
 * knows which.
 */
export interface StateBackend {
  readonly kind: StateBackendKind;
  /** Check-and-reserve every charge of a request or none, settled or released once per reservation. */
  readonly quotas: QuotaCounters;
  /** The revocation list replicas share (the embedded node's list is its token registry). */
  readonly revocations: Revocations;
  /** Providers' circuit-breaker state, shared by every replica. */
  readonly circuits: CircuitStateStore;
  /**
   * The backend's Redis for the modules with a Redis implementation of their own (stored responses: responses/,
   * the response cache: cache/), so those stay in their modules and this one imports neither.
   */
  readonly redisAccess: SharedRedis;
  health(): StateHealth;
  /** Waits for pending writes and disconnects. */
  close(): Promise<void>;
}
