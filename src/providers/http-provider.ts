import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import type { ProviderConfig, ProviderType } from '../core-config/index.js';
import { UpstreamError, isRetryableStatus } from '../errors/index.js';
import type { ProviderFormat } from '../core/index.js';
import { endpointsFor } from './endpoints.js';
import { parseRetryAfter } from './retry-after.js';
import type { Operation, Provider, ProviderEndpoints, UpstreamCall, UpstreamResponse } from './types.js';

const MAX_ERROR_BODY = 64 * 1024;

/** Pulls a human-readable message out of an upstream error body (OpenAI, Anthropic and Gemini all nest `error.message`). */
function upstreamMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof body.error === 'string' ? body.error : body.error?.message ?? body.message;
    if (typeof message === 'string') return message.slice(0, 500);
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200).replace(/\s+/g, ' ').trim();
}

function headerRecord(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** An upstream that answered 2xx with a body that is not JSON (a proxy's error page, a truncated body). */
export function invalidJson(providerId: string, cause: unknown): UpstreamError {
  return new UpstreamError(providerId, `Provider ${providerId} answered with a body that is not valid JSON`, { retryable: true, code: 'upstream_invalid_response', cause });
}

/**
 * The caller's signal plus the provider's total timeout, as one signal for the whole exchange (body included).
 * Cheaper than `AbortSignal.any([signal, AbortSignal.timeout(ms)])` on the hot path, and `clear()` drops the timer and
 * the listener as soon as the response is consumed instead of leaving them to the garbage collector.
 */
function totalDeadline(parent: AbortSignal, ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, clear: () => {} };
  }
  const onAbort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new DOMException(`total timeout of ${ms} ms exceeded`, 'TimeoutError')), ms);
  timer.unref();
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
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

  constructor(config: ProviderConfig, endpoints: ProviderEndpoints = endpointsFor(config)) {
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

  private headers(call: { apiKey?: UpstreamCall['apiKey']; requestId?: string; passHeaders?: Record<string, string> }): Record<string, string> {
    const key = (call.apiKey ?? this.config.api_key)?.reveal();
    return {
      ...call.passHeaders,
      ...this.config.headers,
      ...this.endpoints.headers(key || undefined),
      ...(call.requestId ? { 'x-request-id': call.requestId } : {}),
    };
  }

  /** The headers of a request with a body, authorised last (a signature covers every other header and the body). */
  private async requestHeaders(call: UpstreamCall, url: string, body: string, signal: AbortSignal): Promise<Record<string, string>> {
    const accept = call.stream ? this.endpoints.streamAccept ?? 'text/event-stream' : 'application/json';
    const headers = { 'content-type': 'application/json', accept, ...this.headers(call) };
    if (!this.endpoints.authorize) return headers;
    const added = await this.endpoints.authorize({ method: 'POST', url: new URL(url), headers, body }, call.apiKey?.reveal() || undefined, signal);
    return { ...headers, ...added };
  }

  async call(call: UpstreamCall): Promise<UpstreamResponse> {
    const { timeouts } = this.config;
    const deadline = totalDeadline(call.signal, timeouts.total_ms);
    const { signal } = deadline;
    const url = this.endpoints.url(call.operation, call.model, call.stream);
    const payload = JSON.stringify(this.endpoints.prepareBody?.(call.operation, call.model, call.body) ?? call.body);
    const id = this.id;
    // A failure once the exchange started: our own total timeout, the caller's cancellation, or the transport.
    const failure = (err: unknown): Error => {
      if (!call.signal.aborted && signal.aborted) {
        return new UpstreamError(id, `Provider ${id}: total timeout of ${timeouts.total_ms} ms exceeded`, { retryable: true, code: 'upstream_timeout', cause: err });
      }
      return transportError(id, err, call.signal);
    };
    let response: Dispatcher.ResponseData;
    let headersSent: Record<string, string>;
    try {
      headersSent = await this.requestHeaders(call, url, payload, signal);
    } catch (err) {
      deadline.clear();
      throw err instanceof UpstreamError ? err : failure(err);
    }
    try {
      response = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: headersSent,
        body: payload,
        signal,
        headersTimeout: timeouts.first_byte_ms,
        bodyTimeout: timeouts.idle_ms,
      });
    } catch (err) {
      deadline.clear();
      throw failure(err);
    }
    const headers = headerRecord(response.headers);
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const text = await readLimited(response.body, MAX_ERROR_BODY).catch(() => '').finally(deadline.clear);
      const refused = response.statusCode === 401 || response.statusCode === 403;
      const renewed = refused && this.endpoints.credentialsRefused?.() === true;
      const retryable = renewed || isRetryableStatus(response.statusCode);
      // An auth failure's text can quote part of the key (OpenAI shows its last characters): never passed on.
      const detail = refused
        ? this.endpoints.refusalDetail?.(response.statusCode, headers) ?? 'the provider refused this gateway\'s credentials (check the provider key)'
        : upstreamMessage(text);
      throw new UpstreamError(this.id, `Provider ${this.id} answered ${response.statusCode}: ${detail}`, {
        upstreamStatus: response.statusCode,
        retryable,
        retryAfter: parseRetryAfter(headers),
        code: response.statusCode === 429 ? 'upstream_rate_limited' : 'upstream_error',
      });
    }
    const body = response.body;
    const read = <T>(consume: () => Promise<T>) => consume().catch((err: unknown) => Promise.reject(err instanceof SyntaxError ? invalidJson(id, err) : failure(err))).finally(deadline.clear);
    return {
      status: response.statusCode,
      headers,
      body: (async function* () {
        try {
          for await (const chunk of body) yield chunk as Uint8Array;
        } catch (err) {
          throw failure(err);
        } finally {
          deadline.clear();
        }
      })(),
      text: () => read(() => body.text()),
      json: () => read(() => body.json()),
      abort: () => {
        deadline.clear();
        body.destroy();
      },
    };
  }

  async discoverModels(signal: AbortSignal): Promise<string[]> {
    const models = this.endpoints.models;
    if (!models) return [];
    const response = await request(models.url, { method: 'GET', dispatcher: this.agent, headers: this.headers({}), signal });
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
