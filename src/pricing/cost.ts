import { usdToMicros } from '../core/index.js';
import { ratesFor, type ModelPrice } from './model-price.js';

/** Token usage as the canonical format reports it: `inputTokens` includes cached and cache-write tokens. */
export interface BillableUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  cacheWriteInputTokens?: number;
}

const PICO_PER_MICRO = 1_000_000n;

/**
 * Cost in integer micro-dollars. USD per million tokens × 10^6 is pico-dollars per token, so every product is an
 * exact integer (prices carry at most six decimals); the sum is a BigInt so no token count can overflow it, and
 * the one rounding (half up) happens at the end, never on accumulated floats.
 */
export function costMicros(price: ModelPrice, usage: BillableUsage): number {
  const rates = ratesFor(price, usage.inputTokens);
  const cached = clampTokens(usage.cachedInputTokens ?? 0);
  const cacheWrite = clampTokens(usage.cacheWriteInputTokens ?? 0);
  const uncached = Math.max(0, clampTokens(usage.inputTokens) - cached - cacheWrite);
  const picos =
    charge(uncached, rates.inputPerMTok) +
    charge(cached, rates.cachedInputPerMTok ?? rates.inputPerMTok) +
    charge(cacheWrite, rates.cacheWriteInputPerMTok ?? rates.inputPerMTok) +
    charge(clampTokens(usage.outputTokens), rates.outputPerMTok);
  return Number((picos + PICO_PER_MICRO / 2n) / PICO_PER_MICRO);
}

function charge(tokens: number, usdPerMTok: number): bigint {
  return BigInt(tokens) * BigInt(usdToMicros(usdPerMTok));
}

function clampTokens(tokens: number): number {
  return Number.isFinite(tokens) && tokens > 0 ? Math.floor(tokens) : 0;
}
