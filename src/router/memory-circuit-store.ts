import type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';
import type { CircuitEvent, CircuitStateStore, SharedCircuit } from './shared-circuit-breaker.js';

interface Stored {
  state: CircuitState;
  failures: number;
  cooldownMs: number;
  /** When the cool-down ends (open) or the probe lease lapses (half_open), epoch ms of `now`. */
  until: number;
}

/**
 * Providers' shared circuit breakers kept in one process's memory: what a node's primary holds for its worker
 * processes (`server.workers`) on the embedded state backend, so a circuit opened by failures at any worker is open at
 * all of them and one probe at a time goes out. The same state machine, event for event, as the Redis store's script
 * (src/state/redis-scripts.ts, `CIRCUIT_EVENT_LUA`), on this process's clock.
 */
export class MemoryCircuitStore implements CircuitStateStore {
  readonly #circuits = new Map<string, Stored>();
  readonly #listeners: Array<(provider: string) => void> = [];

  constructor(private readonly now: () => number = Date.now) {}

  async apply(provider: string, event: CircuitEvent, options: CircuitBreakerOptions): Promise<{ circuit: SharedCircuit; granted: boolean }> {
    const now = this.now();
    const before = this.#stored(provider, options);
    const c: Stored = { ...before };
    let granted = false;
    if (event === 'failure') {
      if (c.state === 'half_open') {
        c.cooldownMs = Math.min(c.cooldownMs * 2, options.maxCooldownMs);
        c.state = 'open';
        c.until = now + c.cooldownMs;
      } else if (c.state === 'closed') {
        c.failures += 1;
        if (c.failures >= options.failureThreshold) {
          c.state = 'open';
          c.until = now + c.cooldownMs;
        }
      }
    } else if (event === 'success') {
      Object.assign(c, { state: 'closed', failures: 0, cooldownMs: options.cooldownMs, until: 0 });
    } else if (event === 'probe') {
      if (c.state === 'closed') granted = true;
      else if (now >= c.until) {
        c.state = 'half_open';
        c.until = now + c.cooldownMs;
        granted = true;
      }
    } else if (c.state === 'half_open') {
      // neutral: the probe ended without a verdict; the next request may probe at once.
      c.state = 'open';
      c.until = now;
    }
    if (c.state !== before.state || c.failures !== before.failures || c.cooldownMs !== before.cooldownMs || c.until !== before.until) {
      if (c.state === 'closed' && c.failures === 0) this.#circuits.delete(provider);
      else this.#circuits.set(provider, c);
      for (const listener of this.#listeners) listener(provider);
    }
    return { circuit: view(c, now), granted };
  }

  async read(providers: string[], options: CircuitBreakerOptions): Promise<Map<string, SharedCircuit>> {
    const now = this.now();
    return new Map(providers.map((provider) => [provider, view(this.#stored(provider, options), now)]));
  }

  onChange(listener: (provider: string) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {}

  #stored(provider: string, options: CircuitBreakerOptions): Stored {
    return this.#circuits.get(provider) ?? { state: 'closed', failures: 0, cooldownMs: options.cooldownMs, until: 0 };
  }
}

const view = (c: Stored, now: number): SharedCircuit => ({ state: c.state, failures: c.failures, cooldownMs: c.cooldownMs, remainingMs: Math.max(0, c.until - now) });
