import type { QualitySignal, SignalsConfig } from './signal-schema.js';

/**
 * What the routing engine's Score layer reads: the quality of one target (a provider id or `peer:<id>`) serving one
 * model, 0 (worst) .. 1 (best), for a profile when enough signals name it; undefined when too few signals exist.
 */
export interface QualitySignals {
  scoreOf(target: string, model: string, profile?: string): number | undefined;
}

/** An aggregate of one (target, model, profile) group, as listed. */
export interface QualityGroup {
  target: string;
  model: string;
  /** null: every profile together. */
  profile: string | null;
  score: number;
  /** Decayed weight now (a fresh signal counts 1). */
  weight: number;
}

interface Sum {
  /** Σ weight × score and Σ weight, both decayed to `at`. */
  weighted: number;
  weight: number;
  at: number;
}

const ALL_PROFILES = '\u0000*';
const ANY_PEER = 'peer:*';

/**
 * Exponentially decayed means of signal scores per (target, model, profile) and per (target, model) over all
 * profiles. A signal given at t weighs 2^(-(now - t) / halfLife) now, so each group keeps just two sums and a time;
 * removing a replaced signal subtracts exactly what it still contributes. Pure: the clock is passed in.
 */
/** The aggregate's sums as data (a primary process hands them to a worker, which then follows its changes). */
export type QualitySnapshot = Array<[string, Sum]>;

export class QualityAggregate implements QualitySignals {
  private readonly sums = new Map<string, Sum>();
  private readonly listeners = new Set<(signal: QualitySignal, sign: 1 | -1) => void>();

  constructor(private readonly options: { halfLifeMs: number; minWeight: number; now: () => number }) {}

  /** The aggregate `[signals]` configures (half-life in hours, minimum weight). */
  static forConfig(config: SignalsConfig, now: () => number): QualityAggregate {
    return new QualityAggregate({ halfLifeMs: config.half_life_hours * 3_600_000, minWeight: config.min_weight, now });
  }

  /** Every signal added (1) or removed (-1) from now on; returns the unsubscribe. */
  onChange(listener: (signal: QualitySignal, sign: 1 | -1) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): QualitySnapshot {
    return [...this.sums].map(([key, sum]) => [key, { ...sum }]);
  }

  /** Starts from another aggregate's sums (a worker's copy of its primary's). */
  restore(snapshot: QualitySnapshot): void {
    this.sums.clear();
    for (const [key, sum] of snapshot) this.sums.set(key, { ...sum });
  }

  add(signal: QualitySignal): void {
    this.apply(signal, 1);
  }

  remove(signal: QualitySignal): void {
    this.apply(signal, -1);
  }

  scoreOf(target: string, model: string, profile?: string): number | undefined {
    const now = this.options.now();
    if (profile !== undefined) {
      const own = this.read(groupKey(target, model, profile), now);
      if (own) return own.score;
    }
    return this.read(groupKey(target, model, ALL_PROFILES), now)?.score;
  }

  /** Every group with enough weight, heaviest first. */
  groups(): QualityGroup[] {
    const now = this.options.now();
    const groups: QualityGroup[] = [];
    for (const key of this.sums.keys()) {
      const read = this.read(key, now);
      if (!read) continue;
      const [target, model, profile] = key.split('\u0001') as [string, string, string];
      groups.push({ target, model, profile: profile === ALL_PROFILES ? null : profile, score: read.score, weight: read.weight });
    }
    return groups.sort((a, b) => b.weight - a.weight);
  }

  /** The same scores in the routing engine's terms: a target is a provider id (or `peer:*`) and a model. */
  forRouting(): { scoreOf(target: { provider: string; model: string }, profile?: string): number | undefined } {
    return { scoreOf: (target, profile) => this.scoreOf(target.provider, target.model, profile) };
  }

  private apply(signal: QualitySignal, sign: 1 | -1): void {
    if (signal.target === null || signal.model === null) return;
    // A peer's signals also count for the mesh as a whole (`peer:*`, the target routing plans for the mesh).
    const targets = signal.target.startsWith('peer:') ? [signal.target, ANY_PEER] : [signal.target];
    const keys = targets.flatMap((target) => [
      groupKey(target, signal.model!, ALL_PROFILES),
      ...(signal.profile !== null ? [groupKey(target, signal.model!, signal.profile)] : []),
    ]);
    for (const key of keys) {
      const sum = this.sums.get(key) ?? { weighted: 0, weight: 0, at: signal.time };
      // Both sides are brought to the later of the two times (signals are loaded in any order).
      const at = Math.max(sum.at, signal.time);
      const old = this.decay(at - sum.at);
      const fresh = sign * this.decay(at - signal.time);
      const weight = sum.weight * old + fresh;
      if (weight <= 1e-9) {
        this.sums.delete(key);
        continue;
      }
      this.sums.set(key, { weighted: Math.max(0, sum.weighted * old + fresh * signal.score), weight, at });
    }
    for (const listener of this.listeners) listener(signal, sign);
  }

  private read(key: string, now: number): { score: number; weight: number } | undefined {
    const sum = this.sums.get(key);
    if (!sum) return undefined;
    const weight = sum.weight * this.decay(Math.max(0, now - sum.at));
    if (weight < this.options.minWeight) return undefined;
    return { score: Math.min(1, Math.max(0, sum.weighted / sum.weight)), weight };
  }

  private decay(elapsedMs: number): number {
    return 2 ** (-elapsedMs / this.options.halfLifeMs);
  }
}

function groupKey(target: string, model: string, profile: string): string {
  return `${target}\u0001${model}\u0001${profile}`;
}
