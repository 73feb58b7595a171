import { unauthorized, type GatewayError } from '../errors/index.js';
import type { AdminKey } from './admin-key.js';
import { TOKEN_PREFIX, TokenRejectedError, verifyAccessToken, type VerifiedToken } from './access-token.js';
import type { CredentialResolver } from './credential-resolver.js';
import type { Principal } from './principal.js';
import type { TokenDirectory } from './token-registry.js';
import type { Revocations } from '../state/index.js';

/** Verified tokens kept so a repeat request skips the signature check (exp/nbf/revocation are re-checked every time). */
const VERIFIED_CACHE_SIZE = 10_000;

export interface TokenVerifierOptions {
  adminKey: AdminKey;
  tokens: TokenDirectory;
  clockSkewSeconds: number;
  /** False when `auth.mode` does not include `token`: every access token is then refused with a reason. */
  accepted: boolean;
  /** The revocation list replicas share (Redis backend), asked on every request; absent: the token directory alone. */
  revocations?: Revocations;
  now?: () => number;
}

/** This gateway's own access tokens (`mg-{gatewayId}.{jwt}`), verified against its admin key and token directory. */
export class TokenVerifier implements CredentialResolver {
  private readonly verified = new Map<string, VerifiedToken>();
  private readonly now: () => number;

  constructor(private readonly options: TokenVerifierOptions) {
    this.now = options.now ?? Date.now;
  }

  async resolve(credential: string): Promise<Principal | undefined> {
    if (!credential.startsWith(TOKEN_PREFIX)) return undefined;
    if (!this.options.accepted) throw unauthorized('This gateway does not accept access tokens (auth.mode).', 'tokens_not_accepted');
    const token = await this.verify(credential);
    // A revocation made at another replica: asked on every request, never cached (the 503 when it cannot be asked).
    if (await this.options.revocations?.isRevoked(token.id)) throw tokenError(new TokenRejectedError('revoked'));
    return { kind: 'token', id: token.id, claims: token.payload, expiresAt: token.expiresAt };
  }

  private async verify(token: string): Promise<VerifiedToken> {
    const { tokens, clockSkewSeconds } = this.options;
    const now = this.now();
    const skewMs = clockSkewSeconds * 1000;
    const cached = this.verified.get(token);
    if (cached) {
      if (tokens.isRevoked(cached.id)) throw tokenError(new TokenRejectedError('revoked'));
      if (cached.expiresAt !== null && now >= cached.expiresAt + skewMs) throw tokenError(new TokenRejectedError('expired'));
      if (cached.payload.nbf !== undefined && now < cached.payload.nbf * 1000 - skewMs) throw tokenError(new TokenRejectedError('not_yet_valid'));
      return cached;
    }
    let verified: VerifiedToken;
    try {
      verified = await verifyAccessToken(token, { key: this.options.adminKey, clockSkewSeconds, now, isRevoked: (id) => tokens.isRevoked(id) });
    } catch (err) {
      if (err instanceof TokenRejectedError) throw tokenError(err);
      throw err;
    }
    const known = tokens.get(verified.id)?.payload;
    if (known && JSON.stringify(known) !== JSON.stringify(verified.payload)) throw tokenError(new TokenRejectedError('reused_id'));
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, verified);
    // A token minted offline becomes known (listed, CORS-allowed) on first use; failing to record it must not fail the request.
    if (!tokens.has(verified.id)) void tokens.add(verified, 'seen').catch(() => undefined);
    return verified;
  }
}

function tokenError(err: TokenRejectedError): GatewayError {
  return unauthorized(err.message, err.code);
}
