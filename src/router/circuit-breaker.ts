export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
}

/**
 * Per-provider circuit breaker. `failureThreshold` consecutive failures open it; after the cool-down one probe
 * request is let through (half-open). A successful probe closes it; a failed one re-opens it with the cool-down
 * doubled (capped), so a provider that stays down is probed ever more rarely.
 */
export class CircuitBreaker {
  protected failures = 0;
  protected openedAt = 0;
  protected cooldown: number;
  protected probeInFlight = false;
  protected current: CircuitState = 'closed';

  constructor(private readonly options: CircuitBreakerOptions, private readonly onChange?: (state: CircuitState) => void) {
    this.cooldown = options.cooldownMs;
  }

  state(now = Date.now()): CircuitState {
    if (this.current === 'open' && now - this.openedAt >= this.cooldown) return 'half_open';
    return this.current;
  }

  /**
   * Whether a request may go to this provider now; in half-open state only one probe at a time is admitted. A shared
   * breaker (several replicas) answers a probe request from its store, hence the promise.
   */
  tryAcquire(now = Date.now()): boolean | Promise<boolean> {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open' || this.probeInFlight) return false;
    this.probeInFlight = true;
    this.set('half_open');
    return true;
  }

  /** Milliseconds until a probe may be sent (0 when closed). */
  retryInMs(now = Date.now()): number {
    return this.current === 'closed' ? 0 : Math.max(0, this.openedAt + this.cooldown - now);
  }

  onSuccess(): void {
    this.failures = 0;
    this.probeInFlight = false;
    this.cooldown = this.options.cooldownMs;
    this.set('closed');
  }

  onFailure(now = Date.now()): void {
    if (this.current !== 'closed') {
      // A failed probe: back off further.
      this.cooldown = Math.min(this.cooldown * 2, this.options.maxCooldownMs);
      this.probeInFlight = false;
      this.openedAt = now;
      this.set('open');
      return;
    }
    this.failures += 1;
    if (this.failures >= this.options.failureThreshold) {
      this.openedAt = now;
      this.set('open');
    }
  }

  /** A request that ended without a verdict on the provider (client went away, 4xx): frees a probe slot. */
  onNeutral(): void {
    this.probeInFlight = false;
  }

  private set(state: CircuitState): void {
    if (state === this.current) return;
    this.current = state;
    this.onChange?.(state);
  }
}
