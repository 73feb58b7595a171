import type { Strategy } from './config.js';
import { blendedPrice, type ScoreInput } from './score.js';
import type { Target } from './types.js';

export interface RankInput extends Pick<ScoreInput, 'facts' | 'measured'> {
  target: Target;
  score: number;
}

/** Sorts by `key` ascending (undefined last), keeping the config order among equals. */
function byKey<T extends RankInput>(items: T[], key: (item: T) => number | undefined): T[] {
  return items
    .map((item, index) => ({ item, index, value: key(item) }))
    .sort((a, b) => (a.value ?? Infinity) - (b.value ?? Infinity) || a.index - b.index)
    .map(({ item }) => item);
}

/**
 * Layer 4, rank, by the strategy:
 * - `ordered`: the config order (the behaviour without groups);
 * - `weighted`: a random order where each target comes first with probability weight / total (Efraimidis–Spirakis:
 *   the key −ln(u)/w ascending is a weighted sample without replacement, so the rest stay failover targets);
 * - `least_busy`: fewest requests in flight, relative to capacity;
 * - `latency`: lowest EWMA of the duration; targets not measured yet go first, once each, so they get measured;
 * - `cheapest`: lowest blended price, unknown prices last;
 * - `score`: highest profile score.
 * Open circuits always come last (kept for panic mode only), and the mesh after local targets — except under
 * `cheapest`, where the price the peers advertise competes with local prices, so a cheaper peer goes first.
 */
export function rankTargets<T extends RankInput>(items: T[], strategy: Strategy, random: () => number = Math.random): T[] {
  // One target (the common case: one provider serves the model) has one order whatever the strategy.
  if (items.length < 2) return items;
  let ranked: T[];
  switch (strategy) {
    case 'ordered':
      ranked = items;
      break;
    case 'weighted': {
      const keyed = items.map((item) => ({ item, key: -Math.log(1 - random()) / item.target.weight }));
      ranked = keyed.sort((a, b) => a.key - b.key).map(({ item }) => item);
      break;
    }
    case 'least_busy':
      ranked = byKey(items, (i) => (i.facts.capacity > 0 ? i.facts.inFlight / i.facts.capacity : undefined));
      break;
    case 'latency':
      ranked = byKey(items, (i) => i.measured.latencyEwma ?? -1);
      break;
    case 'cheapest':
      ranked = byKey(items, (i) => blendedPrice(i.facts));
      break;
    case 'score':
      ranked = byKey(items, (i) => -i.score);
      break;
  }
  // The stable sort by tier keeps the order when the tiers already ascend (every target in the first tier; or local
  // providers then the mesh target, the plain model's candidates on a mesh node): no sort then.
  return tiersAscend(ranked, strategy) ? ranked : byKey(ranked, (i) => tierOf(i, strategy));
}

/** Open circuits last (2), the mesh after local targets (1) except under `cheapest`, the rest first (0). */
const tierOf = (i: RankInput, strategy: Strategy) => (i.facts.circuit === 'open' ? 2 : i.target.peer && strategy !== 'cheapest' ? 1 : 0);

function tiersAscend(items: RankInput[], strategy: Strategy): boolean {
  let previous = 0;
  for (const item of items) {
    const tier = tierOf(item, strategy);
    if (tier < previous) return false;
    previous = tier;
  }
  return true;
}
