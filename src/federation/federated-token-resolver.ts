import { TOKEN_PREFIX, TokenRejectedError, splitAccessToken, verifyAccessToken, parsePublicKey, type CredentialResolver, type FederatedPrincipal } from '../auth/index.js';
import { GatewayError, unauthorized } from '../errors/index.js';
import type { GatewayDirectory } from './gateway-directory.js';
import type { TrustedGateways } from './trusted-gateways.js';

export interface FederatedTokenResolverOptions {
  /** This node's own gateway id: its tokens are the next resolver's. */
  ownGatewayId: string;
  trusted: TrustedGateways;
  directory: GatewayDirectory;
  /** Where the token text of each federated principal is kept for its reservation (never on the principal itself). */
  credentials: WeakMap<object, string>;
  clockSkewSeconds: number;
  retryAfterSeconds: number;
  now?: () => number;
}

/**
 * Access tokens of other gateways (`mg-{X}.…`), verified offline with X's key from its gateway record — signature,
 * `typ`, `iss`, `exp`/`nbf`, claims — before anything else. A token of a gateway this node does not trust is refused
 * with 401 `token_untrusted_gateway`; of a trusted gateway none of whose nodes is known, 503 `issuer_unavailable`
 * (fail closed). Revocation is the issuer's: it refuses the reservation every request needs.
 */
export class FederatedTokenResolver implements CredentialResolver {
  readonly #now: () => number;

  constructor(private readonly options: FederatedTokenResolverOptions) {
    this.#now = options.now ?? Date.now;
  }

  async resolve(credential: string): Promise<FederatedPrincipal | undefined> {
    const parts = otherGatewayToken(credential, this.options.ownGatewayId);
    if (!parts) return undefined;
    const trusted = this.options.trusted.get(parts.gatewayId);
    if (!trusted) throw unauthorized('The access token was issued by a gateway this node does not trust.', 'token_untrusted_gateway');
    const key = trusted.pinnedKey ? parsePublicKey(trusted.pinnedKey) : this.options.directory.find(parts.gatewayId)?.publicKey;
    if (!key) throw issuerUnavailable(parts.gatewayId, this.options.retryAfterSeconds);
    let verified;
    try {
      verified = await verifyAccessToken(credential, { key, clockSkewSeconds: this.options.clockSkewSeconds, now: this.#now() });
    } catch (err) {
      if (err instanceof TokenRejectedError) throw unauthorized(err.message, err.code);
      throw err;
    }
    const principal: FederatedPrincipal = { kind: 'token', id: `${parts.gatewayId}.${verified.id}`, claims: verified.payload, expiresAt: verified.expiresAt, issuer: parts.gatewayId };
    this.options.credentials.set(principal, credential);
    return principal;
  }
}

/**
 * The parts of `credential` when it is an access token of a gateway other than `ownGatewayId`; undefined for anything
 * else — not an access token, malformed text, or one of this gateway's own, which its own token resolver answers
 * (with its own reasons). What the federated resolver takes, here or in a worker process that passes it on.
 */
export function otherGatewayToken(credential: string, ownGatewayId: string): ReturnType<typeof splitAccessToken> {
  if (!credential.startsWith(TOKEN_PREFIX)) return undefined;
  const parts = splitAccessToken(credential);
  return parts && parts.gatewayId !== ownGatewayId ? parts : undefined;
}

/** 503: no node of the token's gateway answers (or none is known); the request is refused, never admitted unlimited. */
export function issuerUnavailable(gatewayId: string, retryAfterSeconds: number, cause?: unknown): GatewayError {
  return new GatewayError('issuer_unavailable', `No node of gateway ${gatewayId}, which issued the access token, could be reached to reserve its quota; the request was refused rather than admitted without its limits. Retry shortly.`, {
    retryAfter: retryAfterSeconds,
    cause,
  });
}
