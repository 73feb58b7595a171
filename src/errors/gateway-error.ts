/**
 * The one error hierarchy of meshgate. Every failure that can reach a client is a GatewayError carrying an HTTP
 * status, a stable `type` (the OpenAI-style error type) and a `code`. It is mapped to the client's wire format once,
 * at the edge (see ./wire.ts). Messages never contain secrets: callers pass only names and ids, never values.
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'overloaded_error'
  | 'timeout_error'
  | 'api_error';

export interface GatewayErrorOptions {
  code?: string;
  param?: string | null;
  /** Seconds a client should wait before retrying (sets `Retry-After`). */
  retryAfter?: number;
  /** Extra response headers (rate-limit headers, for instance). */
  headers?: Record<string, string>;
  cause?: unknown;
  /** Machine-readable detail shown to the client (never secrets). */
  details?: Record<string, unknown>;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string;
  readonly param: string | null;
  readonly retryAfter?: number;
  readonly headers: Record<string, string>;
  readonly details?: Record<string, unknown>;

  constructor(status: number, type: ErrorType, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.status = status;
    this.type = type;
    this.code = options.code ?? type;
    this.param = options.param ?? null;
    this.retryAfter = options.retryAfter;
    this.headers = { ...(options.headers ?? {}) };
    this.details = options.details;
    if (this.retryAfter !== undefined) this.headers['retry-after'] = String(Math.max(0, Math.ceil(this.retryAfter)));
  }
}

/**
 * Code of a 400 for input that is valid in the client's format but cannot be expressed in another one. The pipeline
 * raises it only when a translation is actually needed (a same-format provider takes the request as it is).
 */
export const NOT_TRANSLATABLE = 'not_translatable';

export const badRequest = (message: string, param?: string, code = 'invalid_request') =>
  new GatewayError(400, 'invalid_request_error', message, { param, code });

export const notFound = (message: string, code = 'not_found', details?: Record<string, unknown>) =>
  new GatewayError(404, 'not_found_error', message, { code, details });

export const unauthorized = (message: string, code = 'invalid_api_key') =>
  new GatewayError(401, 'authentication_error', message, { code });

export const forbidden = (message: string, code = 'forbidden', details?: Record<string, unknown>) =>
  new GatewayError(403, 'permission_error', message, { code, details });

export const tooLarge = (message: string) =>
  new GatewayError(413, 'request_too_large', message, { code: 'request_too_large' });

export const rateLimited = (message: string, retryAfter: number, headers: Record<string, string> = {}, code = 'rate_limit_exceeded') =>
  new GatewayError(429, 'rate_limit_error', message, { retryAfter, headers, code });

/**
 * An error that an upstream (provider or mesh peer) produced. `retryable` follows the usual rule
 * (connection errors, 408, 409, 429, >= 500) so the router can decide to fail over.
 */
export class UpstreamError extends GatewayError {
  readonly upstream: string;
  readonly upstreamStatus?: number;
  readonly retryable: boolean;
  /** Upstream error body as the client would understand it (already secret-free), for non-retryable 4xx. */
  readonly upstreamBody?: unknown;

  constructor(
    upstream: string,
    message: string,
    opts: { upstreamStatus?: number; retryable: boolean; retryAfter?: number; code?: string; cause?: unknown; upstreamBody?: unknown },
  ) {
    const status = opts.upstreamStatus !== undefined && opts.upstreamStatus >= 400 && opts.upstreamStatus < 500 && !opts.retryable
      ? opts.upstreamStatus
      : opts.code === 'upstream_timeout' ? 504 : 502;
    const type: ErrorType = status === 504 ? 'timeout_error' : status < 500 ? statusToType(status) : 'upstream_error';
    super(status, type, message, { code: opts.code ?? 'upstream_error', retryAfter: opts.retryAfter, cause: opts.cause });
    this.name = 'UpstreamError';
    this.upstream = upstream;
    this.upstreamStatus = opts.upstreamStatus;
    this.retryable = opts.retryable;
    this.upstreamBody = opts.upstreamBody;
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

export function statusToType(status: number): ErrorType {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 503: return 'overloaded_error';
    case 504: return 'timeout_error';
    default: return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** Turns anything thrown into a GatewayError without leaking internals to the client. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string } | undefined;
  // fastify's own errors (body too large, bad JSON, unsupported media type) carry statusCode.
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return tooLarge('Request body is too large.');
    if (e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || /JSON/i.test(e.message ?? '')) {
      return new GatewayError(400, 'invalid_request_error', `Request body is not valid JSON: ${e.message ?? 'parse error'}`, { code: 'invalid_json' });
    }
    return new GatewayError(e.statusCode, statusToType(e.statusCode), e.message ?? 'Bad request', { code: e.code ?? 'invalid_request' });
  }
  // A deadline (AbortSignal.timeout) that passed while waiting on something: a timeout, not an internal failure.
  if (err instanceof DOMException && err.name === 'TimeoutError') {
    return new GatewayError(504, 'timeout_error', 'The request ran out of time.', { code: 'deadline_exceeded' });
  }
  return new GatewayError(500, 'api_error', 'Internal gateway error.', { code: 'internal_error', cause: err });
}
