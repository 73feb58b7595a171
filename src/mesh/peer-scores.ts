/**
 * What this node measured about each peer it forwarded to. Ranking uses only these measurements (and the price a
 * peer commits to in its signed record), never a peer's own claims about its speed or reliability, since
 * kad-dht has no Sybil protection and any peer could advertise itself as the best.
 */

/** Weight of the newest sample in the moving averages. */
const EWMA_ALPHA = 0.3;
/** Optimistic priors so that a peer never tried yet still gets a chance against measured ones. */
const PRIOR_LATENCY_MS = 500;
const PRIOR_SUCCESS = 0.9;
/** Success rate (moving average) from which a measured peer counts as healthy. */
const HEALTHY_SUCCESS = 0.5;
/** Blended USD per million tokens at which price halves a peer's score. */
const PRICE_HALF_SCORE_USD = 20;

export interface PeerScoreOptions {
  banAfterFailures: number;
  banBaseMs: number;
  banMaxMs: number;
  clock: () => number;
}

export interface PeerStats {
  successRate: number;
  latencyMs: number;
  ttftMs: number;
  inFlight: number;
  requests: number;
  /** Forwards that ended with a verdict on the peer (succeeded or failed); 0 = never measured. */
  completed: number;
  failures: number;
  consecutiveFailures: number;
  bannedUntil?: number;
  bans: number;
}

/** One forward in progress: report exactly one outcome. */
export interface ForwardMeasurement {
  head(): void;
  firstByte(): void;
  succeeded(): void;
  /** A failure attributable to the peer (unreachable, reset, timeout, 5xx/429 answer). */
  failed(): void;
  /** Ended without a verdict on the peer (the client left, the peer refused a cycle). */
  cancelled(): void;
}

function unmeasured(): PeerStats {
  return { successRate: PRIOR_SUCCESS, latencyMs: PRIOR_LATENCY_MS, ttftMs: PRIOR_LATENCY_MS, inFlight: 0, requests: 0, completed: 0, failures: 0, consecutiveFailures: 0, bans: 0 };
}

function ewma(previous: number, sample: number): number {
  return previous + EWMA_ALPHA * (sample - previous);
}

export class PeerScores {
  readonly #stats = new Map<string, PeerStats>();
  readonly #options: PeerScoreOptions;

  constructor(options: PeerScoreOptions) {
    this.#options = options;
  }

  #entry(peerId: string): PeerStats {
    let stats = this.#stats.get(peerId);
    if (!stats) {
      stats = unmeasured();
      this.#stats.set(peerId, stats);
    }
    return stats;
  }

  /** Peers banned right now. */
  banned(): string[] {
    return [...this.#stats.keys()].filter((id) => this.isBanned(id));
  }

  get(peerId: string): PeerStats | undefined {
    return this.#stats.get(peerId);
  }

  /** This node has a verdict on at least one forward to the peer (what its score says is measured, not a prior). */
  isMeasured(peerId: string): boolean {
    return (this.#stats.get(peerId)?.completed ?? 0) > 0;
  }

  /** Measured, not banned, and succeeding at least half the time lately. */
  isHealthy(peerId: string): boolean {
    const stats = this.#stats.get(peerId);
    return stats !== undefined && stats.completed > 0 && !this.isBanned(peerId) && stats.successRate >= HEALTHY_SUCCESS;
  }

  isBanned(peerId: string): boolean {
    const until = this.#stats.get(peerId)?.bannedUntil;
    return until !== undefined && until > this.#options.clock();
  }

  /**
   * Higher is better, in (0, 1]: success rate (squared: reliability matters most) × speed (time to first token)
   * × our own in-flight load on that peer × price.
   */
  score(peerId: string, blendedPricePerMTok?: number): number {
    const stats = this.#stats.get(peerId) ?? unmeasured();
    const speed = 1000 / (1000 + stats.ttftMs);
    const load = 1 / (1 + stats.inFlight / 4);
    const price = blendedPricePerMTok === undefined ? 1 : PRICE_HALF_SCORE_USD / (PRICE_HALF_SCORE_USD + blendedPricePerMTok);
    return stats.successRate ** 2 * speed * load * price;
  }

  begin(peerId: string): ForwardMeasurement {
    const { clock } = this.#options;
    const stats = this.#entry(peerId);
    const startedAt = clock();
    let ended = false;
    stats.inFlight++;
    stats.requests++;
    const end = (): boolean => {
      if (ended) return false;
      ended = true;
      stats.inFlight--;
      return true;
    };
    return {
      head: () => {
        stats.latencyMs = ewma(stats.latencyMs, clock() - startedAt);
      },
      firstByte: () => {
        stats.ttftMs = ewma(stats.ttftMs, clock() - startedAt);
      },
      succeeded: () => {
        if (!end()) return;
        stats.completed++;
        stats.successRate = ewma(stats.successRate, 1);
        stats.consecutiveFailures = 0;
        stats.bans = 0;
      },
      failed: () => {
        if (!end()) return;
        stats.completed++;
        this.#recordFailure(stats);
      },
      cancelled: () => {
        end();
      },
    };
  }

  #recordFailure(stats: PeerStats): void {
    const { banAfterFailures, banBaseMs, banMaxMs, clock } = this.#options;
    stats.successRate = ewma(stats.successRate, 0);
    stats.failures++;
    stats.consecutiveFailures++;
    if (stats.consecutiveFailures >= banAfterFailures) {
      // Growing back-off: each ban in a row lasts twice as long as the previous one, up to banMaxMs.
      stats.bannedUntil = clock() + Math.min(banMaxMs, banBaseMs * 2 ** stats.bans);
      stats.bans++;
      stats.consecutiveFailures = 0;
    }
  }
}
