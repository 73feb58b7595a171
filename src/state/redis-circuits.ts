import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CircuitBreakerOptions, CircuitState } from '../router/circuit-breaker.js';
import type { CircuitEvent, CircuitStateStore, SharedCircuit } from '../router/shared-circuit-breaker.js';
import type { RedisKeys } from './redis-keys.js';
import { CIRCUIT_EVENT_LUA, CIRCUIT_PEEK_LUA } from './redis-scripts.js';

interface CircuitScripts {
  meshgateCircuitEvent(key: string, ...args: Array<string | number>): Promise<string[]>;
  meshgateCircuitPeek(key: string, ...args: Array<string | number>): Promise<string[]>;
}

/**
 * Providers' circuit breakers in Redis: one hash per provider changed by one script per event (atomic, on Redis's
 * clock), each change announced on a pub/sub channel that a second connection listens to (a subscribed connection can
 * send nothing else). Pub/sub delivers at most once — a replica reconnecting misses what was said meanwhile — so the
 * replicas' periodic refresh, not the announcement, bounds how stale a view can be.
 */
export class RedisCircuitStore implements CircuitStateStore {
  private readonly redis: Redis & CircuitScripts;
  private readonly subscriber: Redis;
  private readonly listeners: Array<(provider: string) => void> = [];

  constructor(redis: Redis, private readonly keys: RedisKeys, logger: Logger) {
    redis.defineCommand('meshgateCircuitEvent', { numberOfKeys: 1, lua: CIRCUIT_EVENT_LUA });
    redis.defineCommand('meshgateCircuitPeek', { numberOfKeys: 1, lua: CIRCUIT_PEEK_LUA });
    this.redis = redis as Redis & CircuitScripts;
    // Same server, credentials and timeouts; ioredis subscribes again by itself after a reconnect.
    // Same server, credentials and timeouts; it subscribes on every (re)connection, so one made while Redis was down
    // catches up as soon as it is back.
    this.subscriber = redis.duplicate({ autoResubscribe: false });
    this.subscriber.on('error', () => undefined); // the main connection's state changes are logged; this one follows it
    this.subscriber.on('message', (_channel: string, provider: string) => {
      for (const listener of this.listeners) listener(provider);
    });
    this.subscriber.on('ready', () => {
      this.subscriber.subscribe(keys.circuitChannel()).catch((err: Error) => logger.warn({ err: err.message }, 'circuit state: could not subscribe to changes; relying on the periodic refresh'));
    });
  }

  /** Connects the listening connection (not waiting long: Redis may be down at start). */
  async start(): Promise<void> {
    await this.subscriber.connect().catch(() => undefined);
  }

  async apply(provider: string, event: CircuitEvent, options: CircuitBreakerOptions): Promise<{ circuit: SharedCircuit; granted: boolean }> {
    const reply = await this.redis.meshgateCircuitEvent(
      this.keys.circuit(provider), event, options.failureThreshold, options.cooldownMs, options.maxCooldownMs, this.keys.circuitChannel(), provider,
    );
    return { circuit: circuitOf(reply), granted: reply[4] === '1' };
  }

  async read(providers: string[], options: CircuitBreakerOptions): Promise<Map<string, SharedCircuit>> {
    const pipeline = this.redis.pipeline();
    for (const provider of providers) (pipeline as unknown as CircuitScripts).meshgateCircuitPeek(this.keys.circuit(provider), options.cooldownMs);
    const replies = (await pipeline.exec()) ?? [];
    const circuits = new Map<string, SharedCircuit>();
    for (const [i, [err, reply]] of replies.entries()) {
      if (err) throw err;
      circuits.set(providers[i]!, circuitOf(reply as string[]));
    }
    return circuits;
  }

  onChange(listener: (provider: string) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect(false);
  }
}

function circuitOf(reply: string[]): SharedCircuit {
  return { state: reply[0] as CircuitState, failures: Number(reply[1]), cooldownMs: Number(reply[2]), remainingMs: Number(reply[3]) };
}
