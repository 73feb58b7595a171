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
  const output = clampTokens(usage.outputTokens);
  // Pico-dollars per token of each kind: USD per million tokens in micro-dollars.
  const rUncached = usdToMicros(rates.inputPerMTok);
  const rCached = usdToMicros(rates.cachedInputPerMTok ?? rates.inputPerMTok);
  const rWrite = usdToMicros(rates.cacheWriteInputPerMTok ?? rates.inputPerMTok);
  const rOutput = usdToMicros(rates.outputPerMTok);
  const exact = exactCostMicros(uncached * rUncached, cached * rCached, cacheWrite * rWrite, output * rOutput, rUncached, rCached, rWrite, rOutput);
  if (exact !== undefined) return exact;
  const picos = charge(uncached, rUncached) + charge(cached, rCached) + charge(cacheWrite, rWrite) + charge(output, rOutput);
  return Number((picos + PICO_PER_MICRO / 2n) / PICO_PER_MICRO);
}

/**
 * The same sum and rounding in doubles when that is exact — every rate a non-negative safe integer of micro-dollars,
 * every product (`p1`…`p4`, pico-dollars) and the sum below 2^53, where integer arithmetic in doubles has no rounding
 * — as it is for any real request; undefined otherwise (the BigInt path then). A request's record and quota
 * settlement each price it: the BigInt path made about a dozen BigInts per call.
 */
function exactCostMicros(p1: number, p2: number, p3: number, p4: number, r1: number, r2: number, r3: number, r4: number): number | undefined {
  if (!(safeRate(r1) && safeRate(r2) && safeRate(r3) && safeRate(r4))) return undefined;
  const picos = p1 + p2 + p3 + p4;
  if (!(p1 <= MAX_EXACT && p2 <= MAX_EXACT && p3 <= MAX_EXACT && p4 <= MAX_EXACT && picos <= MAX_EXACT)) return undefined;
  // (picos + ½ micro) / 1 micro, truncated as the BigInt division is (picos ≥ 0, so that is the floor); the quotient
  // in doubles is corrected by its exact remainder.
  const halfUp = picos + PICOS_HALF;
  let micros = Math.floor(halfUp / PICOS);
  const rest = halfUp - micros * PICOS;
  if (rest < 0) micros -= 1;
  else if (rest >= PICOS) micros += 1;
  return micros;
}

const PICOS = 1_000_000;
const PICOS_HALF = 500_000;
/** Below this every sum above (and the half added for rounding) is an exact integer in a double. */
const MAX_EXACT = Number.MAX_SAFE_INTEGER - PICOS;
const safeRate = (micros: number) => Number.isSafeInteger(micros) && micros >= 0;

function charge(tokens: number, picosPerToken: number): bigint {
  return BigInt(tokens) * BigInt(picosPerToken);
}

function clampTokens(tokens: number): number {
  return Number.isFinite(tokens) && tokens > 0 ? Math.floor(tokens) : 0;
}
