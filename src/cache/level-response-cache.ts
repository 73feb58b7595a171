import type { Store } from '../store/index.js';
import type { CachedAnswer, ResponseCacheBackend } from './cache-backend.js';

/** What the size cap and TTL need to know of an entry without reading it. */
interface EntryMeta {
  bytes: number;
  expiresAt: number;
  storedAt: number;
}

export interface LevelCacheLimits {
  maxEntries: number;
  maxBytes: number;
}

/**
 * Cached answers in LevelDB (`cache` sublevel) with a small index of their sizes and expiry (`cache-meta`) kept in
 * memory too, so a miss costs no disk read and the caps are enforced without scanning. Least recently used entries are
 * evicted first once the entry or byte cap is passed (recency is kept in memory: after a restart, the oldest stored
 * go first). Expired entries are dropped when they are read, when the caps need room, and when the cache opens.
 */
export class LevelResponseCache implements ResponseCacheBackend {
  /** Insertion order is recency order: the first key is the least recently used. */
  private readonly index = new Map<string, EntryMeta>();
  private totalBytes = 0;
  private readonly answers;
  private readonly metas;

  private constructor(
    private readonly store: Store,
    private readonly limits: LevelCacheLimits,
    private readonly now: () => number,
  ) {
    this.answers = store.sublevel<CachedAnswer>('cache');
    this.metas = store.sublevel<EntryMeta>('cache-meta');
  }

  static async open(store: Store, limits: LevelCacheLimits, now: () => number = Date.now): Promise<LevelResponseCache> {
    const cache = new LevelResponseCache(store, limits, now);
    const at = now();
    const live: Array<[string, EntryMeta]> = [];
    const expired: string[] = [];
    for await (const [key, meta] of cache.metas.iterator()) (meta.expiresAt <= at ? expired.push(key) : live.push([key, meta]));
    live.sort(([, a], [, b]) => a.storedAt - b.storedAt);
    for (const [key, meta] of live) cache.remember(key, meta);
    await cache.remove([...expired, ...cache.overCap()]);
    return cache;
  }

  /** Entries and bytes held now. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.index.size, bytes: this.totalBytes };
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    const meta = this.index.get(key);
    if (!meta) return undefined;
    if (meta.expiresAt <= this.now()) {
      await this.remove([key]);
      return undefined;
    }
    const answer = await this.answers.get(key);
    if (answer === undefined) {
      this.forget(key);
      return undefined;
    }
    // Most recently used now: moved to the end of the eviction order.
    this.index.delete(key);
    this.index.set(key, meta);
    return answer;
  }

  async set(key: string, answer: CachedAnswer, bytes: number): Promise<void> {
    if (bytes > this.limits.maxBytes) return;
    const meta: EntryMeta = { bytes, expiresAt: answer.expiresAt, storedAt: answer.storedAt };
    this.forget(key);
    this.remember(key, meta);
    const evicted = this.overCap();
    for (const old of evicted) this.forget(old);
    await this.store.db.batch([
      { type: 'put', sublevel: this.answers, key, value: answer },
      { type: 'put', sublevel: this.metas, key, value: meta },
      ...evicted.flatMap((old) => [{ type: 'del' as const, sublevel: this.answers, key: old }, { type: 'del' as const, sublevel: this.metas, key: old }]),
    ]);
  }

  async close(): Promise<void> {
    this.index.clear();
    this.totalBytes = 0;
  }

  private remember(key: string, meta: EntryMeta): void {
    this.index.set(key, meta);
    this.totalBytes += meta.bytes;
  }

  private forget(key: string): void {
    const meta = this.index.get(key);
    if (!meta) return;
    this.index.delete(key);
    this.totalBytes -= meta.bytes;
  }

  /** Keys to evict (expired ones first, then least recently used) until both caps hold; not yet forgotten. */
  private overCap(): string[] {
    let entries = this.index.size;
    let bytes = this.totalBytes;
    if (entries <= this.limits.maxEntries && bytes <= this.limits.maxBytes) return [];
    const at = this.now();
    const victims: string[] = [];
    const take = (key: string, meta: EntryMeta) => {
      victims.push(key);
      entries -= 1;
      bytes -= meta.bytes;
    };
    for (const [key, meta] of this.index) if (meta.expiresAt <= at) take(key, meta);
    const chosen = new Set(victims);
    for (const [key, meta] of this.index) {
      if (entries <= this.limits.maxEntries && bytes <= this.limits.maxBytes) break;
      if (!chosen.has(key)) take(key, meta);
    }
    return victims;
  }

  private async remove(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) this.forget(key);
    await this.store.db.batch(keys.flatMap((key) => [
      { type: 'del' as const, sublevel: this.answers, key },
      { type: 'del' as const, sublevel: this.metas, key },
    ]));
  }
}
