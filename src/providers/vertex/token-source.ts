import { importPKCS8, SignJWT, type CryptoKey } from 'jose';
import { request } from '../undici.js';
import { z } from 'zod';
import { UpstreamError } from '../../errors/index.js';
import type { ServiceAccountKey } from './service-account.js';

/** The scope Vertex AI accepts (https://cloud.google.com/vertex-ai/docs/authentication). */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** A token is renewed this long before it expires, so a request never leaves with one about to lapse. */
export const REFRESH_MARGIN_MS = 5 * 60_000;
const ASSERTION_LIFETIME_S = 3600;
const EXCHANGE_TIMEOUT_MS = 15_000;

const tokenResponseSchema = z.object({ access_token: z.string().min(1), expires_in: z.number().positive().optional() }).loose();

export interface AccessTokenSource {
  /** A valid access token, minted or refreshed when needed. Throws UpstreamError when none can be had. */
  token(signal: AbortSignal): Promise<string>;
  /** The upstream refused the current token: the next call mints a new one. True when there was one to drop. */
  invalidate(): boolean;
}

/** A fixed access token from the config or environment (it is not refreshed: it works until it expires). */
export function staticTokenSource(token: () => string): AccessTokenSource {
  return { token: async () => token(), invalidate: () => false };
}

/**
 * OAuth 2.0 for a service account (RFC 7523 JWT bearer grant, as Google documents it in
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest): an RS256-signed assertion
 * {iss, scope, aud = token_uri, iat, exp} is exchanged at the key's token_uri. The token is cached and renewed
 * REFRESH_MARGIN_MS before expiry; concurrent callers share one exchange (single flight).
 */
export function serviceAccountTokenSource(key: ServiceAccountKey, providerId: string, now: () => number = Date.now): AccessTokenSource {
  let cached: { token: string; expiresAt: number } | undefined;
  let inFlight: Promise<{ token: string; expiresAt: number }> | undefined;
  let signingKey: Promise<CryptoKey> | undefined;

  const failure = (message: string, opts: { retryable: boolean; cause?: unknown }) =>
    new UpstreamError(providerId, `Provider ${providerId}: no access token from ${key.tokenUri}: ${message}`, { ...opts, upstreamStatus: opts.retryable ? undefined : 401 });

  async function exchange(): Promise<{ token: string; expiresAt: number }> {
    signingKey ??= importPKCS8(key.privateKey.reveal(), 'RS256').catch((err: unknown) => {
      signingKey = undefined;
      throw failure('the service-account private key cannot be read', { retryable: false, cause: err });
    });
    const issuedAt = Math.floor(now() / 1000);
    const assertion = await new SignJWT({ scope: CLOUD_PLATFORM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) })
      .setIssuer(key.clientEmail)
      .setAudience(key.tokenUri)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_S)
      .sign(await signingKey);
    let response;
    try {
      response = await request(key.tokenUri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
        signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS),
      });
    } catch (err) {
      throw failure(`the token endpoint could not be reached (${(err as { code?: string }).code ?? 'error'})`, { retryable: true, cause: err });
    }
    const text = await response.body.text().catch(() => '');
    if (response.statusCode !== 200) {
      // OAuth errors are {error, error_description} (RFC 6749 §5.2): codes and descriptions, no key material.
      const body = (() => { try { return JSON.parse(text) as { error?: unknown; error_description?: unknown }; } catch { return {}; } })();
      const reason = [body.error, body.error_description].filter((s) => typeof s === 'string').join(': ').slice(0, 300) || `HTTP ${response.statusCode}`;
      throw failure(reason, { retryable: response.statusCode >= 500 || response.statusCode === 429 });
    }
    const parsed = tokenResponseSchema.safeParse((() => { try { return JSON.parse(text); } catch { return undefined; } })());
    if (!parsed.success) throw failure('the token endpoint answered without an access_token', { retryable: true });
    return { token: parsed.data.access_token, expiresAt: now() + (parsed.data.expires_in ?? ASSERTION_LIFETIME_S) * 1000 };
  }

  return {
    async token(signal) {
      if (cached && cached.expiresAt - REFRESH_MARGIN_MS > now()) return cached.token;
      inFlight ??= exchange().then(
        (fresh) => { cached = fresh; inFlight = undefined; return fresh; },
        (err: unknown) => { inFlight = undefined; throw err; },
      );
      // The exchange is shared: one caller giving up does not cancel it for the others.
      const fresh = await abortable(inFlight, signal);
      return fresh.token;
    },
    invalidate() {
      const had = cached !== undefined;
      cached = undefined;
      return had;
    },
  };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
