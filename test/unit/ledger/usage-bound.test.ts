import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { USAGE_BOUND_FACTOR, USAGE_BOUND_SLACK, boundedUsage, hiddenOutputAllowance, usageBound, withinBound } from '../../../src/ledger/index.js';
import { estimateTextTokens, tokenWeightedLength } from '../../../src/pipeline/token-estimate.js';

interface Vectors {
  factor: number;
  slack: { input: number; output: number };
  measure: Array<{ text: string; weighted_length: number; tokens: number }>;
  claims: Array<{
    measured: { input: number; output: number };
    reported_reasoning?: number;
    request_output_limit?: number;
    requested_reasoning_budget?: number;
    hidden_output: number;
    bound: { input: number; output: number };
    claimed: { input: number; output: number; cached: number };
    acknowledged: boolean;
    charged: { input: number; output: number; cached: number };
  }>;
}

const vectors = JSON.parse(readFileSync(new URL('../../../protocol/vectors/receipts/usage-bound.json', import.meta.url), 'utf8')) as Vectors;

describe('usage bound vectors (protocol/vectors/receipts/usage-bound.json)', () => {
  it('uses the factor and slack the spec states', () => {
    expect(USAGE_BOUND_FACTOR).toBe(vectors.factor);
    expect(USAGE_BOUND_SLACK).toEqual(vectors.slack);
  });

  it('measures characters as tokens: 4 ASCII characters per token, a token per other code point', () => {
    for (const v of vectors.measure) {
      expect(tokenWeightedLength(v.text), v.text).toBe(v.weighted_length);
      expect(estimateTextTokens(tokenWeightedLength(v.text)), v.text).toBe(v.tokens);
    }
  });

  it('bounds each claim (hidden reasoning allowed up to the request\'s output limit), acknowledges only claims within the bound, and charges the capped figure', () => {
    for (const v of vectors.claims) {
      expect(hiddenOutputAllowance(v.reported_reasoning, v.request_output_limit, v.requested_reasoning_budget)).toBe(v.hidden_output);
      expect(usageBound(v.measured, v.hidden_output)).toEqual(v.bound);
      expect(withinBound(v.claimed, v.bound)).toBe(v.acknowledged);
      expect(boundedUsage(v.claimed, v.bound)).toEqual(v.charged);
    }
  });
});
