import { describe, expect, it } from 'vitest';
import { PerPeerRate } from '../../../src/core/index.js';

describe('ledger messages per peer', () => {
  it('lets a burst of ten seconds\' worth through, then the rate, for each peer on its own', () => {
    let now = 0;
    const rate = new PerPeerRate(5, () => now);
    const take = (peer: string, n: number) => Array.from({ length: n }, () => rate.admit(peer)).filter(Boolean).length;
    expect(take('a', 80)).toBe(50);
    expect(take('b', 10)).toBe(10);
    now += 1_000;
    expect(take('a', 10)).toBe(5);
    now += 60_000; // an idle peer's allowance refills up to the burst, never beyond
    expect(take('a', 80)).toBe(50);
  });

  it('refusals do not drain the allowance further', () => {
    let now = 0;
    const rate = new PerPeerRate(1, () => now);
    for (let i = 0; i < 10; i++) rate.admit('a');
    for (let i = 0; i < 1_000; i++) expect(rate.admit('a')).toBe(false);
    now += 1_000;
    expect(rate.admit('a')).toBe(true);
  });

  it('0 means no limit', () => {
    const rate = new PerPeerRate(0);
    for (let i = 0; i < 10_000; i++) expect(rate.admit('a')).toBe(true);
  });
});
