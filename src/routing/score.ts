import type { Profile } from './config.js';
import type { MeasuredSignals, TargetFacts } from './types.js';

export const SIGNALS = ['price', 'ttft', 'duration', 'success', 'quality', 'load'] as const;
export type SignalName = (typeof SIGNALS)[number];

/** One target's inputs to the Score layer. */
export interface ScoreInput {
  facts: TargetFacts;
  measured: MeasuredSignals;
  quality: number | undefined;
}

/** Each signal normalised to 0..1 (1 = best among these candidates); 0.5 when unknown, so unknown is neither. */
export type NormalisedSignals = Record<SignalName, number>;

const NEUTRAL = 0.5;

/** Blended price per million tokens (input and output equally), undefined when either is unknown. */
export const blendedPrice = (facts: TargetFacts) =>
  facts.inputPrice === undefined || facts.outputPrice === undefined ? undefined : (facts.inputPrice + facts.outputPrice) / 2;

/** Lower is better: the best known value scores 1, the worst 0 (all equal → 1), unknown → neutral. */
function lowerIsBetter(values: Array<number | undefined>): number[] {
  // One pass for the range, one for the scores: no filtered copy, no spread into Math.min/max (per request, per signal).
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v === undefined) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    // As Math.min/max: one NaN makes both NaN.
    if (Number.isNaN(v)) {
      min = Number.NaN;
      max = Number.NaN;
      break;
    }
  }
  const scores: number[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    scores[i] = v === undefined ? NEUTRAL : max === min ? 1 : (max - v) / (max - min);
  }
  return scores;
}

const ONES: NormalisedSignals = { price: 1, ttft: 1, duration: 1, success: 1, quality: 1, load: 1 };

/**
 * Σ weight × signal in SIGNALS' order. Each field read by name: `weights[s]` over the six names is a keyed load that
 * V8 turns megamorphic (a hash look-up per name, twelve per candidate).
 */
const weightedSum = (w: NormalisedSignals, s: NormalisedSignals) =>
  w.price * s.price + w.ttft * s.ttft + w.duration * s.duration + w.success * s.success + w.quality * s.quality + w.load * s.load;

/**
 * Layer 3, score: the profile's weights over the normalised signals — price, TTFT p50, duration p50, success rate,
 * quality from feedback and current load (in flight over capacity). Normalising across the candidates of this
 * request keeps the weights comparable whatever the units.
 */
export function scoreTargets(inputs: ScoreInput[], profile: Profile | undefined): Array<{ score: number; signals: NormalisedSignals }> {
  const price = lowerIsBetter(inputs.map((i) => blendedPrice(i.facts)));
  const ttft = lowerIsBetter(inputs.map((i) => i.measured.ttftP50));
  const duration = lowerIsBetter(inputs.map((i) => i.measured.durationP50));
  const weights = profile?.weights ?? { price: 0, ttft: 0, duration: 0, success: 0, quality: 0, load: 0 };
  const total = weightedSum(weights, ONES);
  return inputs.map((input, i) => {
    const signals: NormalisedSignals = {
      price: price[i]!,
      ttft: ttft[i]!,
      duration: duration[i]!,
      success: input.measured.successRate ?? NEUTRAL,
      quality: input.quality === undefined ? NEUTRAL : Math.min(1, Math.max(0, input.quality)),
      load: input.facts.capacity > 0 ? Math.max(0, 1 - input.facts.inFlight / input.facts.capacity) : NEUTRAL,
    };
    const score = total === 0 ? 0 : weightedSum(weights, signals) / total;
    return { score, signals };
  });
}
