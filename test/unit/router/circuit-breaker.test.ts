import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState } from '../../../src/router/circuit-breaker.js';

describe('CircuitBreaker', () => {
  const options = { failureThreshold: 3, cooldownMs: 1_000, maxCooldownMs: 4_000 };

  it('opens after consecutive failures, admits one probe after the cool-down, and closes on success', () => {
    const changes: CircuitState[] = [];
    const breaker = new CircuitBreaker(options, (s) => changes.push(s));
    breaker.onFailure(0);
    breaker.onFailure(0);
    expect(breaker.tryAcquire(0)).toBe(true);
    breaker.onFailure(0);
    expect(breaker.state(0)).toBe('open');
    expect(breaker.tryAcquire(500)).toBe(false);
    expect(breaker.retryInMs(500)).toBe(500);
    expect(breaker.tryAcquire(1_000)).toBe(true); // the probe
    expect(breaker.tryAcquire(1_000)).toBe(false); // only one at a time
    breaker.onSuccess();
    expect(breaker.state(1_000)).toBe('closed');
    expect(changes).toEqual(['open', 'half_open', 'closed']);
  });

  it('doubles the cool-down after a failed probe, up to the cap', () => {
    const breaker = new CircuitBreaker(options);
    for (let i = 0; i < 3; i++) breaker.onFailure(0);
    expect(breaker.tryAcquire(1_000)).toBe(true);
    breaker.onFailure(1_000);
    expect(breaker.tryAcquire(2_999)).toBe(false);
    expect(breaker.tryAcquire(3_000)).toBe(true);
    breaker.onFailure(3_000);
    expect(breaker.tryAcquire(6_999)).toBe(false);
    expect(breaker.tryAcquire(7_000)).toBe(true);
    breaker.onFailure(7_000);
    expect(breaker.retryInMs(7_000)).toBe(4_000);
  });

  it('a success resets the failure count', () => {
    const breaker = new CircuitBreaker(options);
    breaker.onFailure(0);
    breaker.onFailure(0);
    breaker.onSuccess();
    breaker.onFailure(0);
    breaker.onFailure(0);
    expect(breaker.state(0)).toBe('closed');
  });
});
