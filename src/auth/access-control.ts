import { createHash } from 'node:crypto';
import { ConfigError, type PrincipalRef, type Secret } from '../core/index.js';
import { forbidden, GatewayError, unauthorized } from '../errors/index.js';
import {
  clientIp,
  countryVerdict,
  CountryLookup,
  modelAllowed,
  needsCountry,
  quotaCharges,
  quotaExceeded,
  QuotaExceededError,
  quotaHeaders,
  QuotaStore,
  type AccessRules,
  type ClientAddressSource,
} from '../policy/index.js';
import type { Store } from '../store/index.js';
import { SECRET_KEY_PREFIX, loadAdminKey, type AdminKey, type LoadedAdminKey } from './admin-key.js';
import {
  mintAccessToken,
  TOKEN_PREFIX,
  TokenRejectedError,
  verifyAccessToken,
  type VerifiedToken,
} from './access-token.js';
import type { AccessMode, AuthConfig, VirtualKey } from './auth-config.js';
import { checkOrigin, hostMatches, originHost, requestOrigin } from './origin.js';
import { presentedCredential, type HeaderBag, type Principal } from './principal.js';
import { corsHeaders } from './cors.js';
import { TokenRegistry } from './token-registry.js';
import { tokenStatus, virtualKeyStatus, type TokenStatus, type VirtualKeyStatus } from './token-status.js';

export interface AccessControlOptions {
  auth: AuthConfig;
  keyMap?: VirtualKey[];
  store: Store;
  /** Where admin.key lives when `auth.admin_key` is not configured. */
  dataDir: string;
  /** `server.trust_proxy`: true = one proxy in front, a number = that many. */
  trustProxy?: boolean | number;
  now?: () => number;
  /** Country database; defaults to `auth.geo_db` or the bundled one. */
  geo?: CountryLookup;
  /** Limits for each mesh peer this node serves (mesh.peer_limits), counted per peer id. */
  peerLimits?: AccessRules;
}

export interface AuthRequest {
  headers: HeaderBag;
  /** The client address (from `clientIp`), for geo rules. */
  ip?: string;
}

export interface ReserveInput {
  ip?: string;
  model?: string;
  estimatedTokens: number;
  /** Estimated cost in micro-dollars. */
  estimatedCostMicros?: number;
  /** False when the model has no known price: a principal with a cost limit is then refused (its spend could not be counted). */
  priced?: boolean;
}

export interface ActualUsage {
  tokens?: number;
  costMicros?: number;
}

/** A quota reservation for one request: `settle` after it succeeded, `release` if it failed. */
export interface Reservation {
  /** x-ratelimit-* headers with the quota remaining after this request. */
  headers: Record<string, string>;
  settle(usage: ActualUsage): Promise<void>;
  release(): Promise<void>;
}

/** Verified tokens kept so a repeat request skips the signature check (exp/nbf/revocation are re-checked every time). */
const VERIFIED_CACHE_SIZE = 10_000;
/** How often long-expired tokens are forgotten while the node runs. */
const PRUNE_INTERVAL_MS = 60 * 60_000;

/**
 * Access control for one node: who is asking (admin key, access token, virtual key, or the public), whether they may
 * (origin, country, model), and how much (quotas reserved before the upstream call and settled after).
 * See src/auth/README.md for what each mechanism protects against and what it cannot.
 */
export class AccessControl {
  readonly adminKey: AdminKey;
  /** How the admin key was obtained; when `generated`, print it once with `file`. */
  readonly adminKeyOrigin: Omit<LoadedAdminKey, 'key'>;
  private readonly modes: Set<AccessMode>;
  private readonly virtualKeysByDigest: Map<string, VirtualKey>;
  private readonly virtualKeysById: Map<string, VirtualKey>;
  private readonly verified = new Map<string, VerifiedToken>();
  private pruneTimer?: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly geo: CountryLookup;

  private constructor(
    private readonly options: AccessControlOptions,
    loaded: LoadedAdminKey,
    private readonly registry: TokenRegistry,
    private readonly quotas: QuotaStore,
  ) {
    const { key, ...origin } = loaded;
    this.adminKey = key;
    this.adminKeyOrigin = origin;
    this.modes = new Set(options.auth.mode);
    this.now = options.now ?? Date.now;
    this.geo = options.geo ?? new CountryLookup(options.auth.geo_db);
    const keys = options.keyMap ?? [];
    this.virtualKeysByDigest = new Map(keys.map((vk) => [digest(vk.key.reveal()), vk]));
    this.virtualKeysById = new Map(keys.map((vk) => [vk.id, vk]));
  }

  static async create(options: AccessControlOptions): Promise<AccessControl> {
    const loaded = await loadAdminKey({ configured: options.auth.admin_key?.reveal(), dataDir: options.dataDir });
    const registry = await TokenRegistry.open(options.store, (options.now ?? Date.now)());
    const access = new AccessControl(options, loaded, registry, await QuotaStore.forStore(options.store, options.now));
    // A configured country database is opened now: a wrong path is a start-up error, not a first-request one.
    if (options.auth.geo_db) {
      try {
        access.geo.open();
      } catch (err) {
        throw new ConfigError(`Invalid configuration: auth.geo_db: ${(err as Error).message}`);
      }
    }
    access.pruneTimer = setInterval(() => void access.pruneTokens().catch(() => undefined), PRUNE_INTERVAL_MS);
    access.pruneTimer.unref();
    return access;
  }

  /** Forgets tokens expired more than a week ago (hourly while the node runs, and at start); returns how many. */
  pruneTokens(): Promise<number> {
    return this.registry.prune(this.now());
  }

  /** Waits for pending quota writes; call before closing the store. */
  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.quotas.flush();
  }

  /** The address per-IP quotas and geo rules use, honouring `trust_proxy`. */
  clientIp(source: ClientAddressSource): string | undefined {
    return clientIp(source, this.options.trustProxy ?? false);
  }

  country(ip: string | undefined): string | undefined {
    return ip === undefined ? undefined : this.geo.country(ip);
  }

  /** Establishes the principal; throws 401 (credentials) or 403 (origin, country). */
  async authenticate(request: AuthRequest): Promise<Principal> {
    const credential = presentedCredential(request.headers);
    const principal = await this.identify(credential);
    const rules = this.rulesOf(principal);
    const origin = requestOrigin(request.headers);
    const verdict = checkOrigin(origin, rules.domains);
    if (verdict === 'missing') throw forbidden('This credential is bound to web origins and the request has no Origin or Referer header.', 'origin_required');
    if (verdict === 'not_allowed') throw forbidden(`Origin ${originHost(origin!) ?? 'of this request'} is not allowed for this credential.`, 'origin_not_allowed');
    if (needsCountry(rules)) {
      const country = this.country(request.ip);
      const geo = countryVerdict(rules, country, this.options.auth.unknown_country);
      if (!geo.allowed) {
        throw forbidden(
          geo.reason === 'unknown' ? 'Requests from an unknown country are not allowed.' : `Requests from country ${country} are not allowed.`,
          'country_not_allowed',
          { country: country ?? null },
        );
      }
    }
    return principal;
  }

  private async identify(credential: string | undefined): Promise<Principal> {
    if (credential?.startsWith(SECRET_KEY_PREFIX)) {
      if (this.adminKey.matches(credential)) return { kind: 'admin', id: 'admin' };
      throw unauthorized('The admin key is not valid for this gateway.', 'invalid_admin_key');
    }
    if (credential?.startsWith(TOKEN_PREFIX)) {
      if (!this.modes.has('token')) throw unauthorized('This gateway does not accept access tokens (auth.mode).', 'tokens_not_accepted');
      const token = await this.verifyToken(credential);
      return { kind: 'token', id: token.id, claims: token.payload, expiresAt: token.expiresAt };
    }
    if (credential !== undefined && this.modes.has('key')) {
      const vk = this.virtualKeysByDigest.get(digest(credential));
      if (vk) return { kind: 'virtual_key', id: vk.id, label: vk.label };
    }
    if (this.modes.has('public')) return { kind: 'public' };
    if (credential === undefined) throw unauthorized('Missing credentials: send an access token or API key as "Authorization: Bearer …" or "x-api-key".', 'missing_credentials');
    throw unauthorized('The API key is not valid for this gateway.', 'invalid_api_key');
  }

  private async verifyToken(token: string): Promise<VerifiedToken> {
    const now = this.now();
    const skewMs = this.options.auth.clock_skew_seconds * 1000;
    const cached = this.verified.get(token);
    if (cached) {
      if (this.registry.isRevoked(cached.id)) throw tokenError(new TokenRejectedError('revoked'));
      if (cached.expiresAt !== null && now >= cached.expiresAt + skewMs) throw tokenError(new TokenRejectedError('expired'));
      if (cached.payload.nbf !== undefined && now < cached.payload.nbf * 1000 - skewMs) throw tokenError(new TokenRejectedError('not_yet_valid'));
      return cached;
    }
    let verified: VerifiedToken;
    try {
      verified = await verifyAccessToken(token, {
        key: this.adminKey,
        clockSkewSeconds: this.options.auth.clock_skew_seconds,
        now,
        isRevoked: (id) => this.registry.isRevoked(id),
      });
    } catch (err) {
      if (err instanceof TokenRejectedError) throw tokenError(err);
      throw err;
    }
    const known = this.registry.get(verified.id)?.payload;
    if (known && JSON.stringify(known) !== JSON.stringify(verified.payload)) throw tokenError(new TokenRejectedError('reused_id'));
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, verified);
    // A token minted offline becomes known (listed, CORS-allowed) on first use; failing to record it must not fail the request.
    if (!this.registry.has(verified.id)) void this.registry.add(verified, 'seen').catch(() => undefined);
    return verified;
  }

  /** 403 unless the principal may use `model`. */
  checkModel(principal: PrincipalRef, model: string): void {
    if (!modelAllowed(this.rulesOf(principal), model)) throw forbidden(`Model "${model}" is not allowed for this credential.`, 'model_not_allowed', { model });
  }

  /**
   * Reserves quota for one request before the upstream call; throws 429 naming the limit that was hit, or 503 when
   * the quota store cannot be written (limits fail closed).
   */
  async reserve(principal: PrincipalRef, input: ReserveInput): Promise<Reservation> {
    if (input.model !== undefined) this.checkModel(principal, input.model);
    const rules = this.rulesOf(principal);
    if (rules.cost && input.priced === false) {
      throw new GatewayError('cost_unknown', `This credential has a cost limit, and the model${input.model ? ` '${input.model}'` : ''} has no known price, so its cost could not be counted. Ask the operator to set its price ([pricing."<model>"]) or use a priced model.`);
    }
    const charges = quotaCharges(rules, this.scopeOf(principal), {
      ip: input.ip,
      // A token's counters are useless once it expired: let even its lifetime counters be swept then.
      retainUntil: this.expiryOf(principal),
      estimatedTokens: input.estimatedTokens,
      estimatedCostMicros: input.estimatedCostMicros ?? 0,
    });
    if (charges.length === 0) return { headers: {}, settle: async () => undefined, release: async () => undefined };
    let held;
    try {
      held = await this.quotas.reserve(charges);
    } catch (err) {
      if (err instanceof QuotaExceededError) throw quotaExceeded(err.state, this.now());
      throw new GatewayError('quota_unavailable', 'Quota storage is unavailable; the request was refused rather than admitted without limits.', {
        cause: err,
      });
    }
    return {
      headers: quotaHeaders(held.states, this.now()),
      settle: (usage) => held.settle({ tokens: usage.tokens, cost: usage.costMicros }),
      release: () => held.release(),
    };
  }

  /** The provider key a virtual key maps to for `providerId` (undefined → the provider's own configured key). */
  providerKey(principal: PrincipalRef, providerId: string): Secret | undefined {
    return principal.kind === 'virtual_key' && principal.id !== undefined ? this.virtualKeysById.get(principal.id)?.providerKeys.get(providerId) : undefined;
  }

  /**
   * CORS headers for `origin`, or undefined to send none. With a principal (an actual request) the origin must be
   * one the credential allows. Without one (a preflight, which browsers send without credentials) the origin must be
   * one some credential could allow: any in public mode, else `auth.cors_origins` or a domain of a known, live token.
   */
  corsHeaders(origin: string | undefined, principal?: PrincipalRef, requestedHeaders?: string): Record<string, string> | undefined {
    if (origin === undefined) return undefined;
    const host = originHost(origin);
    if (host === undefined) return undefined;
    const allowed = principal ? this.principalAllowsOrigin(principal, origin) : this.preflightAllows(host);
    return allowed ? corsHeaders(origin, requestedHeaders) : undefined;
  }

  /** Never throws: a principal whose rules cannot be found gets no CORS headers (its request is refused anyway). */
  private principalAllowsOrigin(principal: PrincipalRef, origin: string): boolean {
    try {
      return checkOrigin(origin, this.rulesOf(principal).domains) === 'allowed';
    } catch {
      return false;
    }
  }

  private preflightAllows(host: string): boolean {
    if (this.modes.has('public')) return true;
    return hostMatches(host, this.options.auth.cors_origins) || this.registry.liveTokenAllowsHost(host, this.now());
  }

  /** 401 unless the request carries the admin key (`Authorization: Bearer sk-meshgate-…`, compared in constant time). */
  authorizeAdmin(headers: HeaderBag): void {
    const credential = presentedCredential(headers);
    if (credential === undefined) throw unauthorized('The admin API needs "Authorization: Bearer sk-meshgate-…".', 'missing_admin_key');
    if (!this.adminKey.matches(credential)) throw unauthorized('The admin key is not valid for this gateway.', 'invalid_admin_key');
  }

  /** Mints a token (as the library and CLI do) and records it so it is listed. Throws TokenClaimsError. */
  async mintToken(claims: unknown): Promise<{ token: string; id: string; expiresAt: number | null }> {
    const minted = await mintAccessToken(this.adminKey, claims, this.now());
    if (this.registry.has(minted.id)) {
      throw new GatewayError('token_id_taken', `A token with id "${minted.id}" already exists; token ids (jti) must be unique.`);
    }
    await this.registry.add({ id: minted.id, payload: minted.payload, expiresAt: minted.expiresAt }, 'admin_api');
    return { token: minted.token, id: minted.id, expiresAt: minted.expiresAt };
  }

  /** Revokes a token by id, at once and durably. Unknown ids are remembered too (a token minted offline, unseen yet). */
  async revokeToken(id: string): Promise<TokenStatus> {
    await this.registry.revoke(id, this.now());
    return tokenStatus(this.registry.get(id)!, this.quotas, this.now());
  }

  getToken(id: string): TokenStatus | undefined {
    const record = this.registry.get(id);
    return record ? tokenStatus(record, this.quotas, this.now()) : undefined;
  }

  /** The virtual keys of `[key_map]` with their limits and current usage, in config order. */
  listVirtualKeys(): VirtualKeyStatus[] {
    return [...this.virtualKeysById.values()].map((vk) => virtualKeyStatus(vk, this.quotas));
  }

  listTokens(): TokenStatus[] {
    const now = this.now();
    return this.registry.list().map((record) => tokenStatus(record, this.quotas, now));
  }

  /**
   * The rules that apply to a principal. A token's claims come from the registry, where every verified token is
   * recorded; a token or key id that is not known there gets no rules at all, and is refused (fail closed).
   */
  private rulesOf(principal: PrincipalRef): AccessRules {
    switch (principal.kind) {
      case 'token': {
        if ('claims' in principal) return (principal as Extract<Principal, { kind: 'token' }>).claims;
        const claims = principal.id === undefined ? undefined : this.registry.get(principal.id)?.payload;
        if (!claims) throw unauthorized('The access token is not known to this gateway.', 'token_unknown');
        return claims;
      }
      case 'virtual_key': {
        const vk = principal.id === undefined ? undefined : this.virtualKeysById.get(principal.id);
        if (!vk) throw unauthorized('The API key is not valid for this gateway.', 'invalid_api_key');
        return vk.rules;
      }
      case 'public':
        return this.options.auth.public_limits;
      case 'peer':
        return this.options.peerLimits ?? {};
      case 'admin':
        return {};
    }
  }

  private expiryOf(principal: PrincipalRef): number | undefined {
    if (principal.kind !== 'token' || principal.id === undefined) return undefined;
    const expiresAt = this.registry.get(principal.id)?.expiresAt;
    return expiresAt == null ? undefined : expiresAt + this.options.auth.clock_skew_seconds * 1000;
  }

  private scopeOf(principal: PrincipalRef): string {
    switch (principal.kind) {
      case 'token':
        return `token:${principal.id}`;
      case 'virtual_key':
        return `key:${principal.id}`;
      case 'peer':
        return `peer:${principal.id}`;
      default:
        return principal.kind;
    }
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

function tokenError(err: TokenRejectedError): GatewayError {
  return unauthorized(err.message, err.code);
}
