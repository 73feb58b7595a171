import { GatewayError } from '../errors/index.js';
import type { QuotaCounters } from '../policy/index.js';
import type { Revocations } from '../state/index.js';
import type { AdminKey } from './admin-key.js';
import { mintAccessToken } from './access-token.js';
import type { TokenDirectory } from './token-registry.js';
import { tokenStatus, virtualKeyStatus, type TokenStatus, type VirtualKeyStatus } from './token-status.js';
import type { VirtualKeys } from './virtual-keys.js';

export interface TokenAdminOptions {
  adminKey: AdminKey;
  tokens: TokenDirectory;
  /** Read for the usage each token's listing shows. */
  counters: Pick<QuotaCounters, 'peek'>;
  /** The `[key_map]` virtual keys, listed with their usage. */
  virtualKeys: VirtualKeys;
  /** The revocation list replicas share (Redis backend); absent: the token directory alone. */
  revocations?: Revocations;
  now?: () => number;
}

/** Token administration for the admin API: mint, list with usage, look up, revoke, forget long-expired tokens. */
export class TokenAdmin {
  private readonly now: () => number;

  constructor(private readonly options: TokenAdminOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Mints a token (as the library and CLI do) and records it so it is listed. Throws TokenClaimsError. */
  async mint(claims: unknown): Promise<{ token: string; id: string; expiresAt: number | null }> {
    const { adminKey, tokens } = this.options;
    const minted = await mintAccessToken(adminKey, claims, this.now());
    if (tokens.has(minted.id)) {
      throw new GatewayError('token_id_taken', `A token with id "${minted.id}" already exists; token ids (jti) must be unique.`);
    }
    await tokens.add({ id: minted.id, payload: minted.payload, expiresAt: minted.expiresAt }, 'admin_api');
    return { token: minted.token, id: minted.id, expiresAt: minted.expiresAt };
  }

  /** Revokes a token by id, at once and durably. Unknown ids are remembered too (a token minted offline, unseen yet). */
  async revoke(id: string): Promise<TokenStatus> {
    const record = await this.options.tokens.revoke(id, this.now());
    // On the shared list too (every replica refuses it on its next request); if that fails the caller gets the 503
    // and retries — the local revocation stands either way.
    await this.options.revocations?.revoke(id, record.revokedAt ?? this.now(), record.expiresAt);
    return tokenStatus(record, this.options.counters, this.now());
  }

  async get(id: string): Promise<TokenStatus | undefined> {
    const record = this.options.tokens.get(id);
    return record ? tokenStatus(record, this.options.counters, this.now()) : undefined;
  }

  list(): Promise<TokenStatus[]> {
    const now = this.now();
    return Promise.all(this.options.tokens.list().map((record) => tokenStatus(record, this.options.counters, now)));
  }

  /** The virtual keys of `[key_map]` with their limits and current usage, in config order. */
  listVirtualKeys(): Promise<VirtualKeyStatus[]> {
    return Promise.all(this.options.virtualKeys.list().map((vk) => virtualKeyStatus(vk, this.options.counters)));
  }

  /** Forgets tokens expired more than a week ago (hourly while the node runs, and at start); returns how many. */
  prune(): Promise<number> {
    return this.options.tokens.prune(this.now());
  }
}
