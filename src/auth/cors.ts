/**
 * CORS response headers for an origin that is allowed (Fetch standard, "CORS protocol"). Which origins are allowed
 * is AccessControl's decision; this only says what an allowed origin gets.
 */

/** Response headers a page's script may read: request id and the rate-limit state (see policy/rate-limit-headers). */
const EXPOSED_HEADERS = [
  'x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-ratelimit-scope',
  ...['requests', 'tokens', 'cost', 'ip'].flatMap((metric) => [`x-ratelimit-limit-${metric}`, `x-ratelimit-remaining-${metric}`, `x-ratelimit-reset-${metric}`]),
].join(', ');

const DEFAULT_ALLOWED_HEADERS = 'authorization, x-api-key, content-type, anthropic-version';

export function corsHeaders(origin: string, requestedHeaders?: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    // Echoing what the browser asks for is safe here: credentials are bearer headers, never cookies, and no
    // Allow-Credentials is sent. SDKs in browsers add their own headers (x-stainless-*), so a fixed list breaks them.
    'access-control-allow-headers': requestedHeaders ?? DEFAULT_ALLOWED_HEADERS,
    'access-control-expose-headers': EXPOSED_HEADERS,
    vary: 'Origin',
  };
}
