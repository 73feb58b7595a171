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
  const known = values.filter((v): v is number => v !== undefined);
  const min = Math.min(...known);
  const max = Math.max(...known);
  return values.map((v) => (v === undefined ? NEUTRAL : max === min ? 1 : (max - v) / (max - min)));
}

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
  const total = SIGNALS.reduce((sum, s) => sum + weights[s], 0);
  return inputs.map((input, i) => {
    const signals: NormalisedSignals = {
      price: price[i]!,
      ttft: ttft[i]!,
      duration: duration[i]!,
      success: input.measured.successRate ?? NEUTRAL,
      quality: input.quality === undefined ? NEUTRAL : Math.min(1, Math.max(0, input.quality)),
      load: input.facts.capacity > 0 ? Math.max(0, 1 - input.facts.inFlight / input.facts.capacity) : NEUTRAL,
    };
    const score = total === 0 ? 0 : SIGNALS.reduce((sum, s) => sum + weights[s] * signals[s], 0) / total;
    return { score, signals };
  });
}
