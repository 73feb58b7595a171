import type { Store } from '../store/index.js';
import type { AccessTokenPayload, VerifiedToken } from './access-token.js';
import { hostMatches } from './origin.js';

/**
 * What the gateway knows about access tokens: those minted through the admin API, those seen in a request (tokens
 * minted offline become known on first use), and revocations. Kept in the `token` sublevel and loaded into memory at
 * start, so the revocation check on every request is a Set look-up and a revocation survives restarts.
 * The token text itself is never stored: only its id and claims.
 */
export interface TokenRecord {
  id: string;
  /** Null for a token revoked by id before this gateway ever saw it. */
  payload: AccessTokenPayload | null;
  /** Epoch ms. */
  issuedAt: number | null;
  expiresAt: number | null;
  source: 'admin_api' | 'seen' | 'revoked_by_id';
  revokedAt?: number;
}

export interface TokenDb {
  iterator(): AsyncIterable<[string, TokenRecord]>;
  put(id: string, record: TokenRecord): Promise<void>;
  del(id: string): Promise<void>;
}

/** Expired tokens stay listed this long, then are forgotten (they are refused as expired either way). */
const EXPIRED_RETENTION_MS = 7 * 86_400_000;

/** How long a preflight answer computed from the token list is reused (the list also invalidates it on change). */
const ORIGIN_CACHE_MS = 60_000;

/**
 * What access control needs to know about tokens: their claims by id, revocations, and which hosts live tokens allow.
 * `TokenRegistry` (embedded LevelDB, loaded into memory) is one backend; a shared backend for replicas implements the
 * same, so a revocation on one replica is seen by all.
 */
export interface TokenDirectory {
  isRevoked(id: string): boolean;
  has(id: string): boolean;
  get(id: string): TokenRecord | undefined;
  list(): TokenRecord[];
  liveTokenAllowsHost(host: string, now: number): boolean;
  /** Records a verified token (no-op when its id is known). */
  add(token: VerifiedToken, source: TokenRecord['source']): Promise<void>;
  revoke(id: string, now: number): Promise<TokenRecord>;
  /** Forgets tokens expired more than a week ago; returns how many. */
  prune(now: number): Promise<number>;
}

/** A change to the registry: a record added or replaced, or records forgotten (pruned). */
export type TokenChange = { record: TokenRecord } | { forgotten: string[] };

export class TokenRegistry implements TokenDirectory {
  private readonly records = new Map<string, TokenRecord>();
  private readonly listeners = new Set<(change: TokenChange) => void>();
  /** Host → whether a live token allows it; cleared when a token is added or revoked, and every minute (expiry). */
  private originCache = new Map<string, boolean>();
  private originCacheAt = 0;

  private constructor(private readonly db: TokenDb) {}

  /**
   * Loads every record, forgetting tokens expired more than a week ago — sites that mint a short-lived token per
   * session would otherwise grow this list without end.
   */
  static async open(store: Store, now: number = Date.now()): Promise<TokenRegistry> {
    const registry = new TokenRegistry(store.sublevel<TokenRecord>('token'));
    for await (const [id, record] of registry.db.iterator()) registry.records.set(id, record);
    await registry.prune(now);
    return registry;
  }

  /**
   * A copy of another process's registry (a worker's, of the primary's): starts from `records`, follows the owner
   * through `mirror`, and writes what it learns (a token seen first here) through `db` to the owner.
   */
  static replica(records: TokenRecord[], db: TokenDb): TokenRegistry {
    const registry = new TokenRegistry(db);
    for (const record of records) registry.records.set(record.id, record);
    return registry;
  }

  /** Follows every change from now on (the primary tells its workers); returns the unsubscribe. */
  onChange(listener: (change: TokenChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes a change as the owner made it (a replica following its primary); nothing is written. */
  mirror(change: TokenChange): void {
    if ('record' in change) this.records.set(change.record.id, change.record);
    else for (const id of change.forgotten) this.records.delete(id);
    this.originCache.clear();
  }

  /** A token another process saw first: kept (and announced) unless already known here. */
  async learn(record: TokenRecord): Promise<void> {
    if (this.records.has(record.id)) return;
    this.records.set(record.id, record);
    this.originCache.clear();
    this.notify({ record });
    await this.db.put(record.id, record);
  }

  private notify(change: TokenChange): void {
    for (const listener of this.listeners) listener(change);
  }

  /**
   * Forgets tokens expired more than a week ago, in memory and on disk; runs at start and periodically (a node
   * that stays up while a site mints a token per session would otherwise grow without end). Returns how many.
   */
  async prune(now: number): Promise<number> {
    const forgotten = [...this.records.values()].filter((r) => r.expiresAt !== null && r.expiresAt + EXPIRED_RETENTION_MS < now).map((r) => r.id);
    for (const id of forgotten) {
      this.records.delete(id);
      await this.db.del(id);
    }
    if (forgotten.length > 0) {
      this.originCache.clear();
      this.notify({ forgotten });
    }
    return forgotten.length;
  }

  isRevoked(id: string): boolean {
    return this.records.get(id)?.revokedAt !== undefined;
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  get(id: string): TokenRecord | undefined {
    return this.records.get(id);
  }

  list(): TokenRecord[] {
    return [...this.records.values()];
  }

  /**
   * Whether some known, unrevoked, unexpired token may be used from `host` (an empty `domains` allows any host).
   * CORS preflights ask this on every request in token mode, so answers are cached.
   */
  liveTokenAllowsHost(host: string, now: number): boolean {
    if (now - this.originCacheAt > ORIGIN_CACHE_MS) this.resetOriginCache(now);
    let allowed = this.originCache.get(host);
    if (allowed === undefined) {
      allowed = [...this.records.values()].some((record) => {
        if (record.revokedAt !== undefined || !record.payload || (record.expiresAt !== null && record.expiresAt <= now)) return false;
        const domains = record.payload.domains;
        return !domains || domains.length === 0 || hostMatches(host, domains);
      });
      this.originCache.set(host, allowed);
    }
    return allowed;
  }

  private resetOriginCache(now: number): void {
    this.originCache = new Map();
    this.originCacheAt = now;
  }

  async add(token: VerifiedToken, source: TokenRecord['source']): Promise<void> {
    if (this.records.has(token.id)) return;
    const record: TokenRecord = { id: token.id, payload: token.payload, issuedAt: token.payload.iat * 1000, expiresAt: token.expiresAt, source };
    this.records.set(token.id, record);
    this.originCache.clear();
    this.notify({ record });
    await this.db.put(token.id, record);
  }

  /** Revokes at once (in memory before the write returns); a token never seen is remembered as revoked by id. */
  async revoke(id: string, now: number): Promise<TokenRecord> {
    const existing = this.records.get(id);
    if (existing?.revokedAt !== undefined) return existing;
    const record: TokenRecord = existing
      ? { ...existing, revokedAt: now }
      : { id, payload: null, issuedAt: null, expiresAt: null, source: 'revoked_by_id', revokedAt: now };
    this.records.set(id, record);
    this.originCache.clear();
    this.notify({ record });
    await this.db.put(id, record);
    return record;
  }
}
