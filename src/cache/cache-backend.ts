import type { CanonicalResponse } from '../formats/canonical.js';

/** One stored answer: the response in canonical form, so any client format (streamed or not) can be served from it. */
export interface CachedAnswer {
  /** Epoch ms when it was stored and when it stops being served. */
  storedAt: number;
  expiresAt: number;
  /** The model that produced it (after mapping and failover). */
  model: string;
  response: CanonicalResponse;
}

/**
 * Where cached answers live. The embedded backend is LevelDB (`LevelResponseCache`); a shared state backend (Redis,
 * for replicas) implements the same three calls with its own TTL and eviction. Keys are opaque hashes that already
 * carry the scope, never a credential.
 */
export interface ResponseCacheBackend {
  /** The answer stored under `key`, unless there is none or it expired. */
  get(key: string): Promise<CachedAnswer | undefined>;
  /** Stores (or replaces) an answer; `bytes` is its serialised size, which the size cap counts. */
  set(key: string, answer: CachedAnswer, bytes: number): Promise<void>;
  close(): Promise<void>;
}
