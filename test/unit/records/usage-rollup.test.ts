import { describe, expect, it } from 'vitest';
import { addToRollup, emptyRollup, MAX_KEYS_PER_BUCKET, OTHER_KEY, type UsageRollup } from '../../../src/records/usage-rollup.js';
import { makeRecord } from './make-record.js';

const principal = (n: number) => ({ kind: 'token' as const, id: `tok_${n}` });

/** What a bucket's principal groups must hold: requests per key, the keys past the bound under OTHER_KEY. */
function expectedPrincipals(sequence: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of sequence) {
    const key = `token:tok_${n}`;
    const group = key in counts || Object.keys(counts).length < MAX_KEYS_PER_BUCKET ? key : OTHER_KEY;
    counts[group] = (counts[group] ?? 0) + 1;
  }
  return counts;
}

function requestsBy(rollup: UsageRollup, dimension: 'principal' | 'model'): Record<string, number> {
  return Object.fromEntries(Object.entries(rollup.by[dimension] ?? {}).map(([key, group]) => [key, group.requests]));
}

describe('addToRollup', () => {
  it('counts runs of one kind and alternating kinds into the right groups of each bucket', () => {
    const minute = emptyRollup();
    const hour = emptyRollup();
    const kinds = [['gpt-4o', 1], ['gpt-4o', 1], ['claude-sonnet-4-5', 2], ['gpt-4o', 1], ['claude-sonnet-4-5', 1], ['claude-sonnet-4-5', 1]] as const;
    kinds.forEach(([model, n], i) => {
      const record = makeRecord({ id: `r${i}`, time: 1_000 + i, model, requested_model: model, principal: principal(n), latency_ms: 10 * (i + 1) });
      addToRollup(minute, record);
      addToRollup(hour, record);
    });
    for (const bucket of [minute, hour]) {
      expect(bucket.requests).toBe(6);
      expect(requestsBy(bucket, 'model')).toEqual({ 'gpt-4o': 3, 'claude-sonnet-4-5': 3 });
      expect(requestsBy(bucket, 'principal')).toEqual({ 'token:tok_1': 5, 'token:tok_2': 1 });
      expect(Object.values(bucket.by.model!['gpt-4o']!.latency!).reduce((a, b) => a + b, 0)).toBe(3);
    }
  });

  it('keeps a key past the bound in OTHER_KEY and a key within it in its own group, whatever came just before', () => {
    const bucket = emptyRollup();
    const beyond = MAX_KEYS_PER_BUCKET + 10;
    const sequence = [...Array.from({ length: beyond }, (_, n) => n), beyond - 1, beyond - 1, 0, 0, beyond - 1, 3, beyond + 5];
    sequence.forEach((n, i) => addToRollup(bucket, makeRecord({ id: `r${i}`, time: 1_000, principal: principal(n) })));
    expect(requestsBy(bucket, 'principal')).toEqual(expectedPrincipals(sequence));
    expect(requestsBy(bucket, 'principal')[OTHER_KEY]).toBe(10 + 3 + 1);
  });
});
