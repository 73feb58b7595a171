import { describe, expect, it } from 'vitest';
import { GatewayError, UpstreamError } from '../../../src/errors/index.js';
import { CircuitBreaker } from '../../../src/router/circuit-breaker.js';
import { runFailover, type FailoverTarget } from '../../../src/router/failover.js';
import { parseRetryAfter } from '../../../src/providers/index.js';

const options = () => ({ maxAttempts: 10, maxRetryWaitMs: 50, backoffMs: 1, signal: new AbortController().signal });
const targets = (...ids: string[]): FailoverTarget[] => ids.map((id) => ({ id, retries: 1 }));
const fail = (id: string, status?: number, retryAfter?: number) =>
  new UpstreamError(id, `${id} failed`, { upstreamStatus: status, retryable: status === undefined || status >= 500 || status === 429, retryAfter });

describe('runFailover', () => {
  it('retries a retryable failure on the same target, then moves to the next', async () => {
    const calls: string[] = [];
    const result = await runFailover(targets('a', 'b'), async (t) => {
      calls.push(t.id);
      if (t.id === 'a') throw fail('a', 500);
      return 'ok';
    }, options());
    expect(calls).toEqual(['a', 'a', 'b']);
    expect(result.value).toBe('ok');
    expect(result.attempts.map((a) => [a.target, a.ok])).toEqual([['a', false], ['a', false], ['b', true]]);
  });

  it.each([401, 402, 403, 404])('moves on without retrying after %i from an upstream', async (status) => {
    const calls: string[] = [];
    await runFailover(targets('a', 'b'), async (t) => {
      calls.push(t.id);
      if (t.id === 'a') throw fail('a', status);
      return 'ok';
    }, options());
    expect(calls).toEqual(['a', 'b']);
  });

  it('stops at a client error (400) from an upstream and reports it', async () => {
    const calls: string[] = [];
    const error = await runFailover(targets('a', 'b'), async (t) => {
      calls.push(t.id);
      throw fail(t.id, 400);
    }, options()).catch((e) => e);
    expect(calls).toEqual(['a']);
    expect(error.status).toBe(400);
  });

  it('does not wait for a Retry-After longer than the cap: next target at once', async () => {
    const calls: string[] = [];
    await runFailover(targets('a', 'b'), async (t) => {
      calls.push(t.id);
      if (t.id === 'a') throw fail('a', 429, 30);
      return 'ok';
    }, options());
    expect(calls).toEqual(['a', 'b']);
  });

  it('answers 429 with the shortest Retry-After when every target is rate limited', async () => {
    const error = await runFailover(targets('a', 'b'), async (t) => {
      throw fail(t.id, 429, t.id === 'a' ? 20 : 7);
    }, options()).catch((e) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.status).toBe(429);
    expect(error.headers['retry-after']).toBe('7');
  });

  it('answers 502 naming every target tried when all fail', async () => {
    const error = await runFailover(targets('a', 'b'), async (t) => {
      throw fail(t.id);
    }, options()).catch((e) => e);
    expect(error.status).toBe(502);
    expect(error.message).toContain('a: a failed');
    expect(error.message).toContain('b: b failed');
  });

  it('skips a target whose circuit is open while another can answer', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000, maxCooldownMs: 60_000 });
    breaker.onFailure();
    const calls: string[] = [];
    const result = await runFailover([{ id: 'a', retries: 0, breaker }, { id: 'b', retries: 0 }], async (t) => {
      calls.push(t.id);
      return 'ok';
    }, options());
    expect(calls).toEqual(['b']);
    expect(result.target.id).toBe('b');
  });

  it('with panic mode off, answers 503 with Retry-After when every circuit is open', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000, maxCooldownMs: 60_000 });
    breaker.onFailure();
    const error = await runFailover([{ id: 'a', retries: 0, breaker }], async () => 'never', { ...options(), panic: false }).catch((e) => e);
    expect(error).toMatchObject({ status: 503, code: 'providers_unavailable' });
    expect(Number(error.headers['retry-after'])).toBeGreaterThan(0);
  });

  describe('panic mode (every circuit open)', () => {
    const opened = (cooldownMs: number, at: number) => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs, maxCooldownMs: 600_000 });
      breaker.onFailure(at);
      return breaker;
    };

    it('sends the request, once, to the target whose cool-down ends soonest, and its success closes that circuit', async () => {
      const now = Date.now();
      const a = opened(60_000, now);
      const b = opened(20_000, now);
      const c = opened(40_000, now);
      const calls: string[] = [];
      const panicked: string[] = [];
      const result = await runFailover([{ id: 'a', retries: 2, breaker: a }, { id: 'b', retries: 2, breaker: b }, { id: 'c', retries: 2, breaker: c }], async (t) => {
        calls.push(t.id);
        return 'ok';
      }, { ...options(), onPanic: (id) => panicked.push(id) });
      expect(result).toMatchObject({ value: 'ok', target: { id: 'b' } });
      expect(calls).toEqual(['b']);
      expect(panicked).toEqual(['b']);
      expect(b.state()).toBe('closed');
      expect([a.state(), c.state()]).toEqual(['open', 'open']);
    });

    it('a failed panic attempt is the answer (not a blanket 503), without retries, and leaves the cool-down and probe schedule alone', async () => {
      const now = Date.now();
      const a = opened(30_000, now);
      const calls: string[] = [];
      const error = await runFailover([{ id: 'a', retries: 3, breaker: a }], async (t) => {
        calls.push(t.id);
        throw fail(t.id, 500);
      }, options()).catch((e) => e);
      expect(calls).toEqual(['a']);
      expect(error).toMatchObject({ status: 502, code: 'upstream_error' });
      expect(error.details.tried).toEqual(['a: a failed']);
      // Not treated as a failed probe: the cool-down was not doubled nor restarted, the probe is still due on time.
      expect(a.state(now + 29_999)).toBe('open');
      expect(a.tryAcquire(now + 30_000)).toBe(true);
    });

    it('a due probe still goes first: panic mode only picks up requests the breakers would refuse', async () => {
      const now = Date.now();
      const a = opened(1_000, now - 5_000); // cool-down over: the next request is its probe
      const calls: string[] = [];
      const panicked: string[] = [];
      const probe = runFailover([{ id: 'a', retries: 0, breaker: a }], async (t) => {
        calls.push(`probe ${t.id}`);
        await new Promise((resolve) => setImmediate(resolve));
        return 'probe';
      }, { ...options(), onPanic: (id) => panicked.push(id) });
      // While the probe is in flight, a second request would be refused by the breaker: panic mode sends it too.
      const second = await runFailover([{ id: 'a', retries: 0, breaker: a }], async (t) => {
        calls.push(`panic ${t.id}`);
        return 'second';
      }, { ...options(), onPanic: (id) => panicked.push(id) });
      expect(await probe).toMatchObject({ value: 'probe' });
      expect(second.value).toBe('second');
      expect(calls).toEqual(['probe a', 'panic a']);
      expect(panicked).toEqual(['a']);
      expect(a.state()).toBe('closed');
    });
  });

  it('stops at once when the client goes away', async () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const error = await runFailover(targets('a', 'b'), async (t) => {
      calls.push(t.id);
      controller.abort(new Error('client gone'));
      throw fail(t.id);
    }, { ...options(), signal: controller.signal }).catch((e) => e);
    expect(calls).toEqual(['a']);
    expect(error.message).toBe('a failed');
  });

  it('bounds the total number of attempts', async () => {
    let calls = 0;
    await runFailover(targets('a', 'b', 'c'), async (t) => {
      calls++;
      throw fail(t.id);
    }, { ...options(), maxAttempts: 3 }).catch(() => undefined);
    expect(calls).toBe(3);
  });
});

describe('parseRetryAfter', () => {
  it('reads retry-after-ms, delta seconds and HTTP dates', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '1500' })).toBe(1.5);
    expect(parseRetryAfter({ 'retry-after': '12' })).toBe(12);
    expect(parseRetryAfter({ 'retry-after': new Date(10_000).toUTCString() }, 4_000)).toBe(6);
    expect(parseRetryAfter({ 'retry-after': 'soon' })).toBeUndefined();
    expect(parseRetryAfter({})).toBeUndefined();
  });
});

describe('a target at its own max_concurrent', () => {
  it('is skipped without a retry and without counting against its circuit breaker; all full → 503', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000, maxCooldownMs: 60_000 });
    const full = (id: string) => new UpstreamError(id, `Provider ${id} is at its max_concurrent limit`, { retryable: true, code: 'provider_at_capacity' });
    const calls: string[] = [];
    const result = await runFailover([{ id: 'a', retries: 2, breaker }, { id: 'b', retries: 2 }], async (t) => {
      calls.push(t.id);
      if (t.id === 'a') throw full('a');
      return 'ok';
    }, options());
    expect(result.value).toBe('ok');
    expect(calls).toEqual(['a', 'b']);
    expect(breaker.state()).toBe('closed');
    const error = await runFailover([{ id: 'a', retries: 2, breaker }, { id: 'b', retries: 2 }], async (t) => {
      throw full(t.id);
    }, options()).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, code: 'provider_at_capacity', retryAfter: 1 });
    expect(breaker.state()).toBe('closed');
  });
});
