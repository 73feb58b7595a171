/**
 * The one error hierarchy of meshgate. Every failure that can reach a client is a GatewayError carrying an HTTP
 * status, a stable `type` (the OpenAI-style error type) and a `code`. It is mapped to the client's wire format once,
 * at the edge (see ./wire.ts). Messages never contain secrets: callers pass only names and ids, never values.
 */

import { ERROR_CODES, type CodeWithStatus, type ErrorCode, type ErrorType } from './codes.js';

export type { CodeWithStatus, ErrorCode, ErrorType } from './codes.js';

export interface GatewayErrorOptions {
  /**
   * Only for a code marked `relayed` in ./codes.ts: the status that was relayed (an upstream's 4xx, or the HTTP
   * server's). The type then follows the status.
   */
  status?: number;
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
  readonly code: ErrorCode;
  readonly param: string | null;
  readonly retryAfter?: number;
  readonly headers: Record<string, string>;
  readonly details?: Record<string, unknown>;

  /** Status and type come from the code's entry in the table (./codes.ts). */
  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const spec = ERROR_CODES[code];
    this.name = 'GatewayError';
    this.status = options.status ?? spec.status;
    this.type = this.status === spec.status ? spec.type : statusToType(this.status);
    this.code = code;
    this.param = options.param ?? null;
    this.retryAfter = options.retryAfter;
    this.headers = { ...(options.headers ?? {}) };
    this.details = options.details;
    if (this.retryAfter !== undefined) this.headers['retry-after'] = String(Math.max(0, Math.ceil(this.retryAfter)));
  }
}

export const badRequest = (message: string, param?: string, code: CodeWithStatus<400> = 'invalid_request') =>
  new GatewayError(code, message, { param });

export const notFound = (message: string, code: CodeWithStatus<404>, details?: Record<string, unknown>) =>
  new GatewayError(code, message, { details });

export const unauthorized = (message: string, code: CodeWithStatus<401>) => new GatewayError(code, message);

export const forbidden = (message: string, code: CodeWithStatus<403>, details?: Record<string, unknown>) =>
  new GatewayError(code, message, { details });

export const tooLarge = (message: string) => new GatewayError('request_too_large', message);

/**
 * An error that an upstream (provider or mesh peer) produced. `retryable` follows the usual rule
 * (connection errors, 408, 409, 429, >= 500) so the router can decide to fail over. A non-retryable 4xx is the
 * request's own fault and keeps the upstream's status; otherwise status and type are the code's (502 by default).
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
    opts: { upstreamStatus?: number; retryable: boolean; retryAfter?: number; code?: ErrorCode; cause?: unknown; upstreamBody?: unknown },
  ) {
    const relayed = opts.upstreamStatus !== undefined && opts.upstreamStatus >= 400 && opts.upstreamStatus < 500 && !opts.retryable;
    super(opts.code ?? 'upstream_error', message, { status: relayed ? opts.upstreamStatus : undefined, retryAfter: opts.retryAfter, cause: opts.cause });
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
      return new GatewayError('invalid_json', `Request body is not valid JSON: ${e.message ?? 'parse error'}`);
    }
    // fastify's own code (FST_ERR_…) names an internal of the server, not a code of ours: the status says enough.
    return new GatewayError('invalid_request', e.message ?? 'Bad request', { status: e.statusCode });
  }
  // A deadline (AbortSignal.timeout) that passed while waiting on something: a timeout, not an internal failure.
  if (err instanceof DOMException && err.name === 'TimeoutError') {
    return new GatewayError('deadline_exceeded', 'The request ran out of time.');
  }
  return new GatewayError('internal_error', 'Internal gateway error.', { cause: err });
}
