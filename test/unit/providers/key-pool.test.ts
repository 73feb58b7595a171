import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/core/index.js';
import { providerSchema } from '../../../src/core-config/index.js';
import { KeyPool, keyPoolFor } from '../../../src/providers/key-pool.js';

const key = (label: string, weight = 1, maxConcurrent?: number) => ({ label, secret: new Secret(`value-of-${label}`), weight, ...(maxConcurrent ? { maxConcurrent } : {}) });

describe('KeyPool', () => {
  it('spreads requests by weight (smooth weighted round robin)', () => {
    const pool = new KeyPool([key('a', 3), key('b', 1)], { restMs: 1000, maxRestMs: 8000 });
    const picks = Array.from({ length: 8 }, () => {
      const lease = pool.acquire()!;
      lease.release();
      return lease.label;
    });
    expect(picks.filter((l) => l === 'a')).toHaveLength(6);
    expect(picks.slice(0, 4).filter((l) => l === 'b')).toHaveLength(1); // interleaved, not bunched
  });

  it('rests a refused key with a back-off that doubles and is capped; a Retry-After longer than it wins; success resets it', () => {
    let now = 0;
    const pool = new KeyPool([key('a'), key('b')], { restMs: 1000, maxRestMs: 4000, now: () => now });
    expect(pool.rest('a')).toBe(1000);
    expect(pool.acquire()!.label).toBe('b');
    expect(pool.acquire(new Set(['b']))).toBeUndefined();
    now = 1000;
    expect(pool.acquire(new Set(['b']))!.label).toBe('a');
    expect(pool.rest('a')).toBe(2000);
    expect(pool.rest('a')).toBe(4000);
    expect(pool.rest('a')).toBe(4000);
    pool.accepted('a');
    expect(pool.rest('a', 3000)).toBe(3000);
    expect(pool.rest('b', 60_000)).toBe(4000);
    expect(pool.nextBackInMs()).toBe(3000);
  });

  it('skips a key at its max_concurrent until a lease is released (once, however often release is called)', () => {
    const pool = new KeyPool([key('a', 1, 1), key('b', 1, 1)], { restMs: 1000, maxRestMs: 1000 });
    const first = pool.acquire()!;
    const second = pool.acquire()!;
    expect(new Set([first.label, second.label])).toEqual(new Set(['a', 'b']));
    expect(pool.acquire()).toBeUndefined();
    first.release();
    first.release();
    expect(pool.acquire()!.label).toBe(first.label);
    expect(pool.acquire()).toBeUndefined();
  });

  it('is built from api_keys (labels key-1, key-2) or keys; a single api_key has no pool', () => {
    const parse = (extra: Record<string, unknown>) => providerSchema.parse({ id: 'p', type: 'groq', ...extra });
    expect(keyPoolFor(parse({ api_keys: ['x', 'y'] }))!.labels).toEqual(['key-1', 'key-2']);
    expect(keyPoolFor(parse({ keys: [{ key: 'x', label: 'team-a' }, { key: 'y' }] }))!.labels).toEqual(['team-a', 'key-2']);
    expect(keyPoolFor(parse({ api_key: 'x' }))).toBeUndefined();
  });

  it('refuses two ways of giving keys, a label used twice, and a cap below the rest', () => {
    const bad = (extra: Record<string, unknown>) => providerSchema.safeParse({ id: 'p', type: 'groq', ...extra }).error?.issues[0]?.message;
    expect(bad({ api_key: 'x', api_keys: ['y'] })).toMatch(/one of api_key, api_keys and keys/);
    expect(bad({ keys: [{ key: 'x', label: 'a' }, { key: 'y', label: 'a' }] })).toMatch(/"a" is used twice/);
    expect(bad({ api_keys: ['x'], key_rest_seconds: 10, key_rest_max_seconds: 5 })).toMatch(/below key_rest_seconds/);
    expect(bad({ keys: [{ key: 'x', weight: 0 }] })).toBeDefined();
  });
});
