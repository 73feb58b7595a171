import { describe, expect, it } from 'vitest';
import { chargesAnything, quotaCharges, quotaExceeded, quotaHeaders, quotaWindow, type QuotaMetric, type QuotaState } from '../../../src/policy/index.js';

const now = Date.UTC(2026, 5, 15, 10, 30, 0);
const state = (metric: QuotaMetric, limit: number, used: number, period: QuotaState['charge']['period'] = 'hour'): QuotaState => ({
  charge: { scope: 's', metric, limit, period, amount: 0 },
  used,
  remaining: limit - used,
  resetAt: quotaWindow(period, now).end,
});

describe('rate-limit headers', () => {
  it('shows remaining quota per metric and the tightest one unsuffixed', () => {
    const headers = quotaHeaders([state('requests', 100, 10), state('cost', 5_000_000, 4_500_000, 'lifetime')], now);
    expect(headers['x-ratelimit-remaining-requests']).toBe('90');
    expect(headers['x-ratelimit-reset-requests']).toBe('1800');
    expect(headers['x-ratelimit-limit-cost']).toBe('5');
    expect(headers['x-ratelimit-remaining-cost']).toBe('0.5');
    expect(headers['x-ratelimit-reset-cost']).toBeUndefined();
    expect(headers['x-ratelimit-scope']).toBe('cost');
    expect(headers['x-ratelimit-remaining']).toBe('0.5');
  });

  it('builds a 429 that names the limit, with Retry-After until the window resets', () => {
    const err = quotaExceeded(state('ip', 20, 20), now);
    expect(err.status).toBe(429);
    expect(err.code).toBe('ip_limit_exceeded');
    expect(err.message).toContain('Per-IP request limit reached (20 per hour)');
    expect(err.headers).toMatchObject({ 'retry-after': '1800', 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1800', 'x-ratelimit-scope': 'ip' });
  });

  it('says a lifetime limit does not reset and sends no Retry-After', () => {
    const err = quotaExceeded(state('requests', 5, 5, 'lifetime'), now);
    expect(err.message).toContain('does not reset');
    expect(err.headers['retry-after']).toBeUndefined();
  });
});

describe('quotaCharges', () => {
  it('charges per-IP quotas per visitor address under the principal', () => {
    const charges = quotaCharges({ requests: { limit: 5, period: 'day' }, ipQuota: { limit: 2, period: 'hour' }, cost: { limit: 1.25, currency: 'USD', period: 'month' } }, 'token:abc', {
      ip: '81.2.69.142', estimatedTokens: 10, estimatedCostMicros: 300,
    });
    expect(charges).toEqual([
      { scope: 'token:abc', metric: 'requests', limit: 5, period: 'day', amount: 1 },
      { scope: 'token:abc', metric: 'cost', limit: 1_250_000, period: 'month', amount: 300 },
      { scope: 'token:abc:ip:81.2.69.142', metric: 'ip', limit: 2, period: 'hour', amount: 1 },
    ]);
  });

  it('says it charges anything exactly when it would (admission skips the counters otherwise)', () => {
    const estimate = { estimatedTokens: 10, estimatedCostMicros: 300 };
    const limits = {
      requests: { limit: 5, period: 'day' }, tokens: { limit: 1_000, period: 'hour' }, ipQuota: { limit: 2, period: 'hour' },
      cost: { limit: 1.25, currency: 'USD', period: 'month' },
    } as const;
    // Every key of the rules alone: a limit charges, anything else (origins, countries, models, routing) does not.
    const others = { domains: ['example.com'], allowedCountries: ['DE'], models: ['gpt-4o*'], profile: 'fast', maxInputPrice: 1, freeOnly: true };
    for (const [key, value] of Object.entries({ ...limits, ...others })) {
      const rules = { [key]: value };
      expect(chargesAnything(rules), key).toBe(quotaCharges(rules, 's', estimate).length > 0);
      expect(chargesAnything(rules), key).toBe(key in limits);
    }
    expect(chargesAnything({})).toBe(false);
  });
});

describe('quotaExceeded for an estimate that does not fit', () => {
  it('says how much the request needs and how much remains', () => {
    const err = quotaExceeded({ ...state('tokens', 1_000, 200), charge: { scope: 's', metric: 'tokens', limit: 1_000, period: 'day', amount: 4_096 } }, now);
    expect(err.message).toContain('needs an estimated 4096 but 800 of 1000 per day remain');
  });
});
