import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { QuotaExceededError, type QuotaCharge, type QuotaCounters, type QuotaReservation, type QuotaReserveOptions, type QuotaState } from '../policy/index.js';
import type { CircuitStateStore } from '../router/shared-circuit-breaker.js';
import { RedisCircuitStore } from './redis-circuits.js';
import { RedisKeys } from './redis-keys.js';
import type { SharedRedis } from './shared-redis.js';
import { RedisQuotaCounters, RevokedDuringReserveError } from './redis-quota-counters.js';
import type { Revocations, StateBackend, StateHealth } from './state-backend.js';
import type { StateConfig } from './state-config.js';
import { stateUnavailable } from './state-unavailable.js';

export { RevokedDuringReserveError };

/** What `meshgate_state_operation_seconds{operation}` tells apart. */
export type RedisOperation = 'reserve' | 'settle' | 'peek' | 'revocation' | 'responses' | 'cache';

export interface RedisStateOptions {
  config: StateConfig & { url: string };
  logger: Logger;
  /** The per-replica counters used while Redis is unreachable, when `on_unavailable = "local"`. */
  local?: QuotaCounters;
  /** Each operation's round trip (metrics). */
  onLatency?: (operation: RedisOperation, seconds: number) => void;
  /** Backend reachable or not (metrics). */
  onStatus?: (up: boolean) => void;
}

/**
 * The Redis state backend: one ioredis client that reconnects by itself (capped back-off), sends nothing while
 * disconnected (no offline queue: a request is refused at once rather than queued behind an outage) and gives up on
 * an operation after `timeout_ms`. Unreachable or slow → 503 `state_unavailable`, or per-replica counting with a
 * warning when `on_unavailable = "local"`.
 */
export class RedisState implements StateBackend {
  readonly kind = 'redis' as const;
  readonly quotas: QuotaCounters;
  readonly revocations: Revocations;
  readonly circuits: CircuitStateStore;
  private readonly circuitStore: RedisCircuitStore;
  private readonly redis: Redis;
  private readonly counters: RedisQuotaCounters;
  private readonly keys: RedisKeys;
  private readonly shared: SharedRedis;
  private latencyMs?: number;
  private up = false;
  /** Whether the last operation fell back to local counting (health shows it until Redis answers again). */
  private usingLocal = false;
  /** Closing: the connection going away is expected, not an outage to warn about. */
  private closed = false;

  constructor(private readonly options: RedisStateOptions) {
    const { config } = options;
    this.redis = new Redis(config.url, {
      username: config.username,
      password: config.password?.reveal(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.timeout_ms,
      connectTimeout: config.timeout_ms * 5,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      // Cluster-safe key names already; ioredis must not print the URL, so errors are logged by message only.
      showFriendlyErrorStack: false,
    });
    this.redis.on('ready', () => this.setUp(true));
    this.redis.on('close', () => this.setUp(false));
    this.redis.on('error', () => undefined); // state changes are logged by setUp; the error text is in each refusal's log line
    this.keys = new RedisKeys(config.key_prefix);
    this.counters = new RedisQuotaCounters(this.redis, this.keys, config.reservation_ttl_seconds * 1000);
    this.circuitStore = new RedisCircuitStore(this.redis, this.keys, options.logger);
    this.shared = {
      keys: this.keys,
      define: (name, lua, numberOfKeys) => this.redis.defineCommand(name, { lua, ...(numberOfKeys === undefined ? {} : { numberOfKeys }) }),
      run: (operation, refused, body) => this.timed(operation, () => body(this.redis), undefined, refused),
    };
    this.circuits = this.circuitStore;
    this.quotas = {
      reserve: (charges, reserveOptions) => this.reserve(charges, reserveOptions),
      peek: (charge) => this.peek(charge),
      flush: async () => this.options.local?.flush(),
    };
    this.revocations = {
      isRevoked: (tokenId) => this.timed('revocation', () => this.redis.exists(this.keys.revocation(tokenId)).then((n) => n === 1), async () => false),
      revoke: async (tokenId, at, until) => {
        const key = this.keys.revocation(tokenId);
        // Revoking always needs Redis: a revocation only this replica knows would not hold at the others.
        await this.timed('revocation', () => (until === null ? this.redis.set(key, String(at)) : this.redis.set(key, String(at), 'PXAT', Math.max(until, at + 1))), undefined);
      },
    };
  }

  /** Connects, without waiting long: a node starts while Redis is down (and refuses until it is back). */
  async start(): Promise<void> {
    await this.circuitStore.start();
    await this.redis.connect().catch((err: Error) => this.options.logger.warn({ err: err.message }, 'state backend (redis) not reachable at start; retrying'));
  }

  /** The client, keys and timed runner lent to the stored responses and the response cache. */
  get redisAccess(): SharedRedis {
    return this.shared;
  }

  health(): StateHealth {
    const status = this.up ? 'ok' : this.options.config.on_unavailable === 'local' ? 'local' : 'unavailable';
    return { backend: 'redis', status: this.up && this.usingLocal ? 'local' : status, ...(this.latencyMs !== undefined ? { latency_ms: this.latencyMs } : {}) };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.circuitStore.close();
    this.redis.disconnect(false);
  }

  private async reserve(charges: QuotaCharge[], options?: QuotaReserveOptions): Promise<QuotaReservation> {
    const reservation = await this.timed('reserve', () => this.counters.reserve(charges, options), this.options.local && (() => this.options.local!.reserve(charges, options)));
    return {
      states: reservation.states,
      settle: (actual) => this.timed('settle', () => reservation.settle(actual), undefined),
      release: () => this.timed('settle', () => reservation.release(), undefined),
    };
  }

  private peek(charge: Omit<QuotaCharge, 'amount'>): Promise<QuotaState> {
    return this.timed('peek', () => this.counters.peek(charge), this.options.local && (async () => this.options.local!.peek(charge)));
  }

  /**
   * Runs one Redis operation, timing it. A refusal (quota, revocation) passes through; any other failure is the
   * backend being unavailable: the fallback runs when there is one (on_unavailable = "local"), else 503.
   */
  private async timed<T>(operation: RedisOperation, run: () => Promise<T>, fallback: (() => Promise<T>) | undefined, refused?: string): Promise<T> {
    const started = performance.now();
    try {
      const result = await run();
      this.record(operation, started);
      this.usingLocal = false;
      return result;
    } catch (err) {
      if (err instanceof QuotaExceededError || err instanceof RevokedDuringReserveError) {
        this.record(operation, started);
        throw err;
      }
      const local = this.options.config.on_unavailable === 'local' ? fallback : undefined;
      this.options.logger.warn({ err: (err as Error).message, operation }, local ? 'state backend (redis) unavailable: counting on this replica only' : 'state backend (redis) unavailable: request refused');
      if (local) {
        this.usingLocal = true;
        return local();
      }
      throw stateUnavailable('redis', err, refused);
    }
  }

  private record(operation: RedisOperation, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.latencyMs = Math.round(seconds * 100_000) / 100;
    this.options.onLatency?.(operation, seconds);
  }

  private setUp(up: boolean): void {
    if (up === this.up || this.closed) return;
    this.up = up;
    this.options.onStatus?.(up);
    if (up) this.options.logger.info('state backend (redis) connected');
    else this.options.logger.warn(this.options.config.on_unavailable === 'local' ? 'state backend (redis) disconnected: counting on this replica until it is back' : 'state backend (redis) disconnected: requests that need it are refused until it is back');
  }
}
