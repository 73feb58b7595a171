import { Agent, request, undiciErrors } from './undici.js';
import type { ProviderConfig, ProviderType } from '../core-config/index.js';
import { UpstreamError, isRetryableStatus } from '../errors/index.js';
import { cutText, jsonTextOf, linkedSignal, type ProviderFormat, type Secret, type WireFormat } from '../core/index.js';
import { endpointsFor } from './endpoints.js';
import { keyPoolFor, type KeyPool } from './key-pool.js';
import { parseRetryAfter } from './retry-after.js';
import type { Operation, Provider, ProviderEndpoints, UpstreamCall, UpstreamResponse } from './types.js';
import { exchange, ExchangeDeadline, type ExchangeResponse, type UpstreamBody } from './upstream-exchange.js';

const MAX_ERROR_BODY = 64 * 1024;

/** Pulls a human-readable message out of an upstream error body (OpenAI, Anthropic and Gemini all nest `error.message`). */
function upstreamMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof body.error === 'string' ? body.error : body.error?.message ?? body.message;
    if (typeof message === 'string') return cutText(message, 500);
  } catch {
    // not JSON: fall through to the raw text
  }
  return cutText(text, 200).replace(/\s+/g, ' ').trim();
}

/** An upstream that answered 2xx with a body that is not JSON (a proxy's error page, a truncated body). */
export function invalidJson(providerId: string, cause: unknown): UpstreamError {
  return new UpstreamError(providerId, `Provider ${providerId} answered with a body that is not valid JSON`, { retryable: true, code: 'upstream_invalid_response', cause });
}

/**
 * Maps a transport failure to an UpstreamError that says what happened (timeout of which kind, refused, reset) and
 * whether trying again elsewhere makes sense. A cancellation by our own caller is re-thrown untouched.
 */
function transportError(providerId: string, err: unknown, signal: AbortSignal): Error {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason : new Error('aborted');
  const code = (err as { code?: string }).code ?? '';
  if (err instanceof undiciErrors.ConnectTimeoutError) {
    return new UpstreamError(providerId, `Provider ${providerId}: connect timeout`, { retryable: true, code: 'upstream_timeout', cause: err });
  }
  if (err instanceof undiciErrors.HeadersTimeoutError) {
    return new UpstreamError(providerId, `Provider ${providerId}: no response within the first-byte timeout`, { retryable: true, code: 'upstream_timeout', cause: err });
  }
  if (err instanceof undiciErrors.BodyTimeoutError) {
    return new UpstreamError(providerId, `Provider ${providerId}: stream idle longer than the idle timeout`, { retryable: true, code: 'upstream_timeout', cause: err });
  }
  const what = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' ? 'connection reset' : `connection error (${code || 'unknown'})`;
  return new UpstreamError(providerId, `Provider ${providerId}: ${what}`, { retryable: true, code: 'upstream_connection_error', cause: err });
}

/** One provider over HTTP. Holds its own connection pool (keep-alive) with the configured connect timeout. */
export class HttpProvider implements Provider {
  readonly id: string;
  readonly type: ProviderType;
  readonly format: ProviderFormat;
  readonly config: ProviderConfig;
  private readonly endpoints: ProviderEndpoints;
  private readonly agent: Agent;
  private readonly keys: KeyPool | undefined;

  constructor(config: ProviderConfig, endpoints: ProviderEndpoints = endpointsFor(config)) {
    this.keys = keyPoolFor(config);
    this.id = config.id;
    this.type = config.type;
    this.config = config;
    this.endpoints = endpoints;
    this.format = this.endpoints.format;
    this.agent = new Agent({
      connect: { timeout: config.timeouts.connect_ms },
      keepAliveTimeout: 30_000,
      connections: config.max_concurrent,
      pipelining: 1,
    });
  }

  formatFor(model: string): ProviderFormat {
    return this.endpoints.formatFor?.(model) ?? this.format;
  }

  supports(op: Operation): boolean {
    return this.endpoints.operations.has(op);
  }

  chatFormat(model: string, preferred: WireFormat): ProviderFormat {
    const formats = this.endpoints.chatFormats?.(model) ?? [this.formatFor(model)];
    return formats.includes(preferred) ? preferred : formats[0]!;
  }

  /** The request's headers, added to `into` (a later source replacing an earlier one of the same name): one object per request. */
  private headers(key: Secret | undefined, call: { requestId?: string; passHeaders?: Record<string, string> }, into: Record<string, string> = {}): Record<string, string> {
    if (call.passHeaders) Object.assign(into, call.passHeaders);
    Object.assign(into, this.config.headers, this.endpoints.headers(key?.reveal() || undefined));
    if (call.requestId) into['x-request-id'] = call.requestId;
    return into;
  }

  /** The headers of a request with a body, authorised last (a signature covers every other header and the body). */
  private async requestHeaders(call: UpstreamCall, key: Secret | undefined, perRequestKey: boolean, url: string, body: string, deadline: ExchangeDeadline): Promise<Record<string, string>> {
    const accept = call.stream ? this.endpoints.streamAccept ?? 'text/event-stream' : 'application/json';
    const headers = this.headers(key, call, { 'content-type': 'application/json', accept });
    if (!this.endpoints.authorize) return headers;
    // The caller's signal and the deadline as one signal for the signer (it may fetch a token), for as long as it works.
    const bound = linkedSignal([call.signal], { ms: deadline.remainingMs(), reason: () => deadline.reason() });
    try {
      const added = await this.endpoints.authorize({ method: 'POST', url: new URL(url), headers, body }, perRequestKey ? key?.reveal() || undefined : undefined, bound.signal);
      return { ...headers, ...added };
    } finally {
      bound.clear();
      if (bound.timedOut) deadline.timedOut = true;
    }
  }

  /**
   * Sends the call. With several keys: on the next usable key, and when the provider refuses it (401/403/429) that
   * key rests and the call goes on with the next, before any byte reached the caller; every key resting or full
   * is a retryable 429 (with the time until the first is back), so the router fails over.
   */
  async call(call: UpstreamCall): Promise<UpstreamResponse> {
    const pool = call.apiKey ? undefined : this.keys;
    if (!pool) return this.send(call, call.apiKey ?? this.config.api_key, call.apiKey !== undefined, () => {});
    const refused = new Set<string>();
    for (;;) {
      const lease = pool.acquire(refused);
      if (!lease) throw this.noKeyLeft(pool);
      try {
        const response = await this.send(call, lease.secret, true, lease.release, lease.label);
        pool.accepted(lease.label);
        call.keyTrail?.push({ key: lease.label });
        return response;
      } catch (err) {
        lease.release();
        const status = err instanceof UpstreamError ? err.upstreamStatus : undefined;
        call.keyTrail?.push({ key: lease.label, ...(status !== undefined ? { status } : {}) });
        if (call.signal.aborted || (status !== 401 && status !== 403 && status !== 429)) throw err;
        pool.rest(lease.label, (err as UpstreamError).retryAfter !== undefined ? (err as UpstreamError).retryAfter! * 1000 : undefined);
        refused.add(lease.label);
      }
    }
  }

  private noKeyLeft(pool: KeyPool): UpstreamError {
    const backInMs = pool.nextBackInMs();
    const why = backInMs > 0
      ? `every key is resting after refusals (the first is back in ${Math.ceil(backInMs / 1000)} s)`
      : `every key is busy (max_concurrent per key)`;
    return new UpstreamError(this.id, `Provider ${this.id}: ${why}`, {
      retryable: true,
      upstreamStatus: backInMs > 0 ? 429 : undefined,
      ...(backInMs > 0 ? { retryAfter: Math.ceil(backInMs / 1000) } : {}),
      code: backInMs > 0 ? 'upstream_rate_limited' : 'provider_at_capacity',
    });
  }

  /** One upstream request with one key (`perRequestKey`: handed to a signer as the caller's own); `done` once it is over. */
  private async send(call: UpstreamCall, key: Secret | undefined, perRequestKey: boolean, onDone: () => void, label?: string): Promise<UpstreamResponse> {
    const { timeouts } = this.config;
    // The total timeout covers the whole exchange (body included), counted from here: the exchange's handler keeps it
    // beside the caller's signal, and a signer is given the two as one signal while it works.
    const total = new ExchangeDeadline(timeouts.total_ms);
    // Once the response is consumed (or given up): the key's lease is released, once.
    let over = false;
    const finished = () => {
      if (over) return;
      over = true;
      onDone();
    };
    const { signal } = call;
    const url = this.endpoints.url(call.operation, call.model, call.stream, call.format);
    const sent = this.endpoints.prepareBody?.(call.operation, call.model, call.body) ?? call.body;
    // A body passed through unchanged goes as the client's own JSON text (not when it holds a duplicate key: see
    // jsonTextOf), without encoding it again.
    const payload = jsonTextOf(sent) ?? JSON.stringify(sent);
    const id = this.id;
    // A failure once the exchange started: our own total timeout, the caller's cancellation, or the transport.
    const failure = (err: unknown): Error => {
      if (!call.signal.aborted && total.timedOut) {
        return new UpstreamError(id, `Provider ${id}: total timeout of ${timeouts.total_ms} ms exceeded`, { retryable: true, code: 'upstream_timeout', cause: err });
      }
      return transportError(id, err, call.signal);
    };
    let response: ExchangeResponse;
    let headersSent: Record<string, string>;
    try {
      headersSent = await this.requestHeaders(call, key, perRequestKey, url, payload, total);
    } catch (err) {
      finished();
      throw err instanceof UpstreamError ? err : failure(err);
    }
    try {
      response = await exchange(this.agent, { url, headers: headersSent, body: payload, signal, deadline: total, headersTimeout: timeouts.first_byte_ms, bodyTimeout: timeouts.idle_ms });
    } catch (err) {
      finished();
      throw failure(err);
    }
    const { headers, status } = response;
    if (status < 200 || status >= 300) {
      const text = await readLimited(response.body, MAX_ERROR_BODY).catch(() => '').finally(finished);
      const refused = status === 401 || status === 403;
      const renewed = refused && this.endpoints.credentialsRefused?.() === true;
      const retryable = renewed || isRetryableStatus(status);
      // An auth failure's text can quote part of the key (OpenAI shows its last characters): never passed on.
      const detail = refused
        ? this.endpoints.refusalDetail?.(status, headers) ?? 'the provider refused this gateway\'s credentials (check the provider key)'
        : upstreamMessage(text);
      const who = label === undefined ? this.id : `${this.id} (key ${label})`;
      throw new UpstreamError(this.id, `Provider ${who} answered ${status}: ${detail}`, {
        upstreamStatus: status,
        retryable,
        retryAfter: parseRetryAfter(headers),
        code: status === 429 ? 'upstream_rate_limited' : 'upstream_error',
      });
    }
    const answer = new HttpUpstreamResponse(id, response, failure, finished);
    const dropped = this.endpoints.droppedFields?.(call.operation, call.model, call.body);
    if (dropped?.length) answer.warnings = dropped;
    return answer;
  }

  async discoverModels(signal: AbortSignal): Promise<string[]> {
    const models = this.endpoints.models;
    if (!models) return [];
    // With several keys, the list is asked with the first that is not resting (the lease is given back at once).
    const lease = this.keys?.acquire();
    lease?.release();
    const key = this.keys ? lease?.secret : this.config.api_key;
    const response = await request(models.url, { method: 'GET', dispatcher: this.agent, headers: this.headers(key, {}), signal });
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new Error(`model list answered ${response.statusCode}`);
    }
    return models.parse(await response.body.json());
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * A provider's 2xx answer: its body read as a stream or whole, its errors in the provider's terms, and `finished` told
 * once at its end, whatever the end. One object with its methods on the prototype, where a literal made five closures
 * per request.
 */
class HttpUpstreamResponse implements UpstreamResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Read as a stream: errors mapped by `failure`, the end (any end) told to `finished`. */
  readonly body: AsyncIterable<Uint8Array>;
  warnings?: string[];
  private readonly upstream: UpstreamBody;

  constructor(private readonly providerId: string, response: ExchangeResponse, private readonly failure: (err: unknown) => Error, private readonly finished: () => void) {
    this.status = response.status;
    this.headers = response.headers;
    this.upstream = response.body;
    this.body = response.body.observe({ mapError: failure, onEnd: finished });
  }

  text(): Promise<string> {
    return this.read(() => this.upstream.text());
  }

  bytes(): Promise<Uint8Array> {
    return this.read(() => this.upstream.bytes());
  }

  json(): Promise<unknown> {
    return this.read(() => this.upstream.json());
  }

  abort(): void {
    this.finished();
    this.upstream.destroy();
  }

  /** A whole-body read: a body that is not JSON is the provider's invalid answer, any other failure `failure`'s. */
  private read<T>(consume: () => Promise<T>): Promise<T> {
    return consume().catch((err: unknown) => Promise.reject(err instanceof SyntaxError ? invalidJson(this.providerId, err) : this.failure(err))).finally(this.finished);
  }
}

async function readLimited(body: AsyncIterable<Uint8Array> & { destroy(): void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    size += chunk.byteLength;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
