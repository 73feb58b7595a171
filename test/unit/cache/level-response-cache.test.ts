import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LevelResponseCache, type CachedAnswer } from '../../../src/cache/index.js';
import { Store } from '../../../src/store/index.js';

let dir: string;
let store: Store;
let now = 1_000_000;
const clock = () => now;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-cache-'));
  store = await Store.open(dir);
  now = 1_000_000;
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const answer = (text: string, ttlMs = 60_000): CachedAnswer => ({
  storedAt: now, expiresAt: now + ttlMs, model: 'gpt-4o',
  response: { id: `id-${text}`, model: 'gpt-4o', content: [{ type: 'text', text }], stopReason: 'stop', usage: { inputTokens: 1, outputTokens: 1 } },
});

describe('LevelResponseCache', () => {
  it('serves an entry until its TTL ends, then forgets it', async () => {
    const cache = await LevelResponseCache.open(store, { maxEntries: 10, maxBytes: 1_000_000 }, clock);
    await cache.set('k', answer('a', 5_000), 100);
    expect((await cache.get('k'))?.response.id).toBe('id-a');
    now += 4_999;
    expect(await cache.get('k')).toBeDefined();
    now += 1;
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('evicts the least recently used entry past the entry cap', async () => {
    const cache = await LevelResponseCache.open(store, { maxEntries: 2, maxBytes: 1_000_000 }, clock);
    await cache.set('a', answer('a'), 10);
    await cache.set('b', answer('b'), 10);
    await cache.get('a'); // a is now more recent than b
    await cache.set('c', answer('c'), 10);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toBeDefined();
    expect(await cache.get('c')).toBeDefined();
    expect(cache.size.entries).toBe(2);
  });

  it('evicts until the byte cap holds, and never stores an entry larger than the cap', async () => {
    const cache = await LevelResponseCache.open(store, { maxEntries: 100, maxBytes: 1_000 }, clock);
    await cache.set('a', answer('a'), 400);
    await cache.set('b', answer('b'), 400);
    await cache.set('c', answer('c'), 400);
    expect(await cache.get('a')).toBeUndefined();
    expect(cache.size).toEqual({ entries: 2, bytes: 800 });
    await cache.set('huge', answer('huge'), 1_001);
    expect(await cache.get('huge')).toBeUndefined();
    expect(cache.size.bytes).toBe(800);
  });

  it('keeps entries across a reopen and drops those that expired meanwhile', async () => {
    const first = await LevelResponseCache.open(store, { maxEntries: 10, maxBytes: 1_000_000 }, clock);
    await first.set('short', answer('short', 1_000), 10);
    await first.set('long', answer('long', 100_000), 10);
    await first.close();
    now += 2_000;
    const reopened = await LevelResponseCache.open(store, { maxEntries: 10, maxBytes: 1_000_000 }, clock);
    expect(reopened.size.entries).toBe(1);
    expect((await reopened.get('long'))?.response.id).toBe('id-long');
    expect(await store.sublevel('cache').get('short')).toBeUndefined();
  });

  it('applies a smaller cap at reopen by evicting the oldest stored', async () => {
    const first = await LevelResponseCache.open(store, { maxEntries: 10, maxBytes: 1_000_000 }, clock);
    for (const key of ['a', 'b', 'c']) {
      await first.set(key, answer(key), 10);
      now += 1;
    }
    const reopened = await LevelResponseCache.open(store, { maxEntries: 1, maxBytes: 1_000_000 }, clock);
    expect(await reopened.get('a')).toBeUndefined();
    expect(await reopened.get('b')).toBeUndefined();
    expect(await reopened.get('c')).toBeDefined();
  });
});
