import type { PrincipalRef } from '../core/index.js';
import type { AccessMode, AuthConfig } from './auth-config.js';
import { checkOrigin, hostMatches, originHost } from './origin.js';
import type { PrincipalRules } from './principal-rules.js';
import type { TokenDirectory } from './token-registry.js';

/**
 * Response headers a page's script may read: request id, the rate-limit state (see policy/rate-limit-headers) and the
 * headers the node sends every client about how it answered (provider, attempts, warnings, cache, routing profile).
 */
const EXPOSED_HEADERS = [
  'x-request-id', 'retry-after',
  'x-meshgate-provider', 'x-meshgate-attempts', 'x-meshgate-warnings', 'x-meshgate-estimated', 'x-meshgate-sanitized',
  'x-meshgate-cache', 'x-meshgate-served-by', 'x-meshgate-profile', 'x-meshgate-strategy', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-ratelimit-scope',
  ...['requests', 'tokens', 'cost', 'ip'].flatMap((metric) => [`x-ratelimit-limit-${metric}`, `x-ratelimit-remaining-${metric}`, `x-ratelimit-reset-${metric}`]),
].join(', ');

/** The credential headers of every SDK (see credentials.ts), plus what the client formats need. */
const DEFAULT_ALLOWED_HEADERS = 'authorization, x-api-key, x-goog-api-key, api-key, content-type, anthropic-version';

/** CORS response headers for an origin that is allowed (Fetch standard, "CORS protocol"). */
export function corsHeaders(origin: string, requestedHeaders?: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    // DELETE: a page removes its own stored responses (DELETE /v1/responses/{id}).
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    // Echoing what the browser asks for is safe here: credentials are bearer headers, never cookies, and no
    // Allow-Credentials is sent. SDKs in browsers add their own headers (x-stainless-*), so a fixed list breaks them.
    'access-control-allow-headers': requestedHeaders ?? DEFAULT_ALLOWED_HEADERS,
    'access-control-expose-headers': EXPOSED_HEADERS,
    vary: 'Origin',
  };
}

export interface CorsPolicyOptions {
  auth: Pick<AuthConfig, 'mode' | 'cors_origins'>;
  rules: PrincipalRules;
  tokens: Pick<TokenDirectory, 'liveTokenAllowsHost'>;
  now?: () => number;
}

/** Which origins may read this node's answers. */
export class CorsPolicy {
  private readonly modes: Set<AccessMode>;
  private readonly now: () => number;

  constructor(private readonly options: CorsPolicyOptions) {
    this.modes = new Set(options.auth.mode);
    this.now = options.now ?? Date.now;
  }

  /**
   * CORS headers for `origin`, or undefined to send none. With a principal (an actual request) the origin must be
   * one the credential allows. Without one (a preflight, which browsers send without credentials) the origin must be
   * one some credential could allow: any in public mode, else `auth.cors_origins` or a domain of a known, live token.
   */
  headersFor(origin: string | undefined, principal?: PrincipalRef, requestedHeaders?: string): Record<string, string> | undefined {
    if (origin === undefined) return undefined;
    const host = originHost(origin);
    if (host === undefined) return undefined;
    const allowed = principal ? this.principalAllowsOrigin(principal, origin) : this.preflightAllows(host);
    return allowed ? corsHeaders(origin, requestedHeaders) : undefined;
  }

  /** Never throws: a principal whose rules cannot be found gets no CORS headers (its request is refused anyway). */
  private principalAllowsOrigin(principal: PrincipalRef, origin: string): boolean {
    try {
      return checkOrigin(origin, this.options.rules.of(principal).domains) === 'allowed';
    } catch {
      return false;
    }
  }

  private preflightAllows(host: string): boolean {
    if (this.modes.has('public')) return true;
    return hostMatches(host, this.options.auth.cors_origins) || this.options.tokens.liveTokenAllowsHost(host, this.now());
  }
}
