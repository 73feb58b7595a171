import type { Logger } from 'pino';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.js';

/** A provider's circuit as the shared store held it when it was read. */
export interface SharedCircuit {
  /** `half_open`: one replica holds the probe lease. */
  state: CircuitState;
  /** Consecutive failures counted by every replica together. */
  failures: number;
  cooldownMs: number;
  /** From the read until the cool-down (open) or the probe lease (half-open) ends; 0 when closed. */
  remainingMs: number;
}

/** What a replica reports of an attempt: its verdict, a probe asked for, or a probe that ended without a verdict. */
export type CircuitEvent = 'failure' | 'success' | 'probe' | 'neutral';

/**
 * Where replicas keep their providers' circuits (the state backend: Redis). Each event is applied atomically on the
 * store's own clock; a change is announced to the other replicas.
 */
export interface CircuitStateStore {
  /** Applies the event; `granted`: a probe asked for is this caller's (one replica probes at a time). */
  apply(provider: string, event: CircuitEvent, options: CircuitBreakerOptions): Promise<{ circuit: SharedCircuit; granted: boolean }>;
  /** The circuits of these providers now (a provider with none stored is closed, with no failures). */
  read(providers: string[], options: CircuitBreakerOptions): Promise<Map<string, SharedCircuit>>;
  /** Calls `listener` with a provider whose circuit some replica changed. */
  onChange(listener: (provider: string) => void): void;
  close(): Promise<void>;
}

interface View {
  circuit: SharedCircuit;
  /** Local clock (epoch ms) when `remainingMs` runs out: the store's clock never meets this replica's. */
  until: number;
  /** Local clock when the store said so. */
  readAt: number;
}

/**
 * A provider's circuit breaker shared by every replica: a circuit opened by failures seen at any replica is open at
 * all of them, one probe at a time is sent across all of them, and its success closes the circuit everywhere.
 *
 * Admission reads a local view (no round trip on the hot path); the view is replaced by the store's answer to every
 * event this replica reports, by a read on every change another replica announces, and by the periodic refresh of
 * `SharedCircuits`. A view older than `staleAfterMs` (the store unreachable) is not trusted: the breaker then judges
 * by this replica's own counting (the base class, fed all along), as a node without shared state does.
 */
export class SharedCircuitBreaker extends CircuitBreaker {
  private view?: View;
  /** This replica holds the probe lease. */
  private probing = false;
  private reported: CircuitState = 'closed';
  /**
   * Bumped by every event this replica sends: an answer (to a read or an earlier event) that left before the latest
   * event is older than the view it would replace, so it is dropped; the latest event's answer comes after it.
   */
  private seq = 0;

  constructor(
    readonly provider: string,
    readonly settings: CircuitBreakerOptions,
    private readonly circuits: SharedCircuits,
    private readonly staleAfterMs: number,
    private readonly onStateChange?: (state: CircuitState) => void,
  ) {
    super(settings);
  }

  /** The sequence number an answer must carry to be adopted (taken when its request leaves). */
  get sequence(): number {
    return this.seq;
  }

  /** Takes the store's view (read at local time `readAt`), unless an event left after the request that read it. */
  adopt(circuit: SharedCircuit, readAt: number, seq: number): void {
    if (seq !== this.seq) return;
    this.replaceView(circuit, readAt);
  }

  private replaceView(circuit: SharedCircuit, readAt = Date.now()): void {
    this.view = { circuit, until: readAt + circuit.remainingMs, readAt };
    // The local breaker continues from the last shared state if the store becomes unreachable.
    this.failures = circuit.failures;
    this.cooldown = circuit.cooldownMs;
    this.current = circuit.state;
    this.openedAt = this.view.until - circuit.cooldownMs;
    this.probeInFlight = circuit.state === 'half_open' && this.probing;
    this.report();
  }

  override state(now = Date.now()): CircuitState {
    const view = this.fresh(now);
    if (!view) return super.state(now);
    if (view.circuit.state === 'open' && now >= view.until) return 'half_open';
    return view.circuit.state;
  }

  override tryAcquire(now = Date.now()): boolean | Promise<boolean> {
    const view = this.fresh(now);
    if (!view) return this.reporting(super.tryAcquire(now));
    if (view.circuit.state === 'closed') return true;
    // Open and cooling down, or another replica's probe under way (its lease not yet lapsed).
    if (now < view.until) return false;
    return this.circuits.send(this, 'probe', ++this.seq).then(
      ({ granted }) => (this.probing = granted),
      () => this.reporting(super.tryAcquire(now)),
    );
  }

  override retryInMs(now = Date.now()): number {
    const view = this.fresh(now);
    if (!view) return super.retryInMs(now);
    return view.circuit.state === 'closed' ? 0 : Math.max(0, view.until - now);
  }

  override onSuccess(): void {
    this.reporting(super.onSuccess());
    const view = this.fresh(Date.now());
    this.probing = false;
    // The common case costs nothing: a success on a closed circuit without failures changes nothing in the store.
    if (view && view.circuit.state === 'closed' && view.circuit.failures === 0) return;
    if (view) this.replaceView({ state: 'closed', failures: 0, cooldownMs: this.settings.cooldownMs, remainingMs: 0 });
    void this.circuits.send(this, 'success', ++this.seq).catch(() => undefined);
  }

  override onFailure(now = Date.now()): void {
    this.reporting(super.onFailure(now));
    const view = this.fresh(now);
    // Seen at once on this replica (retries on the same provider stop); the store's answer replaces it.
    if (view?.circuit.state === 'closed') {
      const failures = view.circuit.failures + 1;
      const opens = failures >= this.settings.failureThreshold;
      this.replaceView({ ...view.circuit, failures, ...(opens ? { state: 'open', remainingMs: view.circuit.cooldownMs } : {}) }, now);
    }
    this.probing = false;
    void this.circuits.send(this, 'failure', ++this.seq).catch(() => undefined);
  }

  override onNeutral(): void {
    super.onNeutral();
    if (!this.probing) return;
    this.probing = false;
    void this.circuits.send(this, 'neutral', ++this.seq).catch(() => undefined);
  }

  /** Whether admission follows the shared view now (false: the store has not answered within the staleness bound). */
  trusted(now = Date.now()): boolean {
    return this.fresh(now) !== undefined;
  }

  private fresh(now: number): View | undefined {
    return this.view && now - this.view.readAt <= this.staleAfterMs ? this.view : undefined;
  }

  /** Passes `value` through after reporting the state (the local breaker may have changed it). */
  private reporting<T>(value: T): T {
    this.report();
    return value;
  }

  /** Reports the state requests see, when it changed (log, metrics). */
  private report(): void {
    const state = this.state();
    if (state === this.reported) return;
    this.reported = state;
    this.onStateChange?.(state);
  }
}

export interface SharedCircuitsOptions {
  store: CircuitStateStore;
  /** How often every circuit is read again, whatever was announced (an announcement can be lost). */
  refreshMs: number;
  logger: Logger;
}

/**
 * The shared breakers of one replica and how their views stay current: the store's answer to each event, a read of a
 * provider whenever another replica announces a change, and a read of all of them every `refreshMs`. A view is
 * trusted for three refresh periods; after that (the store unreachable) each breaker judges by its own counting.
 */
export class SharedCircuits {
  private readonly breakers = new Map<string, SharedCircuitBreaker>();
  private readonly timer: NodeJS.Timeout;
  private readonly pending = new Set<Promise<unknown>>();
  private failing = false;

  constructor(private readonly options: SharedCircuitsOptions) {
    options.store.onChange((provider) => {
      const breaker = this.breakers.get(provider);
      if (breaker) this.track(this.refresh([breaker]));
    });
    this.timer = setInterval(() => this.track(this.refresh([...this.breakers.values()])), options.refreshMs);
    this.timer.unref();
  }

  /** Trusted this long after a read (three missed refreshes: the store is not answering). */
  get staleAfterMs(): number {
    return this.options.refreshMs * 3;
  }

  /** The breaker of one provider, registered for refreshes, its view read at once. */
  breaker(provider: string, settings: CircuitBreakerOptions, onChange?: (state: CircuitState) => void): SharedCircuitBreaker {
    const breaker = new SharedCircuitBreaker(provider, settings, this, this.staleAfterMs, onChange);
    this.breakers.set(provider, breaker);
    this.track(this.refresh([breaker]));
    return breaker;
  }

  /** Stops refreshing a provider no longer served (its shared state stays for the replicas that still serve it). */
  forget(provider: string): void {
    this.breakers.delete(provider);
  }

  /** Applies an event at the store (numbered by `seq`, the breaker's sequence after it); the breaker adopts the answer. */
  async send(breaker: SharedCircuitBreaker, event: CircuitEvent, seq: number): Promise<{ granted: boolean }> {
    const sentAt = Date.now();
    const sent = this.options.store.apply(breaker.provider, event, breaker.settings).then(
      ({ circuit, granted }) => {
        this.succeeded();
        breaker.adopt(circuit, sentAt, seq);
        return { granted };
      },
      (err: Error) => {
        this.failed(err);
        throw err;
      },
    );
    this.track(sent.catch(() => undefined));
    return sent;
  }

  /** Waits for events and reads under way, then stops refreshing. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    this.breakers.clear();
  }

  private async refresh(breakers: SharedCircuitBreaker[]): Promise<void> {
    if (breakers.length === 0) return;
    // All of one replica's breakers share one configuration; their settings only matter for a never-seen circuit.
    const readAt = Date.now();
    const seqs = breakers.map((b) => b.sequence);
    try {
      const circuits = await this.options.store.read(breakers.map((b) => b.provider), breakers[0]!.settings);
      this.succeeded();
      for (const [i, breaker] of breakers.entries()) {
        const circuit = circuits.get(breaker.provider);
        if (circuit) breaker.adopt(circuit, readAt, seqs[i]!);
      }
    } catch (err) {
      this.failed(err as Error);
    }
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** One warning per outage, not one per request. */
  private failed(err: Error): void {
    if (this.failing) return;
    this.failing = true;
    this.options.logger.warn({ err: err.message }, `circuit state (shared) unreachable: each provider's breaker judges by this replica's failures after ${this.staleAfterMs} ms`);
  }

  private succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    this.options.logger.info('circuit state (shared) reachable again');
  }
}
