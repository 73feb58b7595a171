import type { Logger } from 'pino';
import { badRequest } from '../errors/index.js';
import type { CachePlan, ResponseCachePort } from '../pipeline/pipeline.js';
import { includeUsageRequested, type Prepared } from '../pipeline/provider-attempt.js';
import type { Meter } from '../pipeline/streaming.js';
import { onStreamEnd } from '../pipeline/streaming.js';
import type { GatewayRequest, ResponseBody } from '../pipeline/types.js';
import type { CachedAnswer, ResponseCacheBackend } from './cache-backend.js';
import { CACHE_MODES, type CacheConfig, type CacheMode } from './cache-config.js';
import { cacheKey, cacheScope, uncacheable } from './cache-key.js';
import { canonicalOfAnswer, replayResponse } from './cached-response.js';

const JSON_TYPE = 'application/json';
const SSE_TYPE = 'text/event-stream; charset=utf-8';
/** SSE framing repeats ids and field names per delta: the text of a stream may be this many times its answer. */
const SSE_OVERHEAD = 8;

/** `x-meshgate-cache` of a request: one of the modes, or a 400 naming the header. */
export function parseCacheMode(value: string | string[] | undefined): CacheMode | undefined {
  if (value === undefined) return undefined;
  const mode = (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase();
  if ((CACHE_MODES as readonly string[]).includes(mode ?? '')) return mode as CacheMode;
  throw badRequest(`Header x-meshgate-cache must be one of ${CACHE_MODES.join(', ')}.`, 'x-meshgate-cache');
}

/**
 * The exact-match response cache as the pipeline uses it. `plan` decides, without serialising anything, whether a
 * request is in play (cache enabled, mode `use` or `refresh` from the header, its project or the config, a scope to
 * keep it in, an answer shape a canonical response can hold); only then is its key computed. A hit is replayed in the
 * client's format, as a stream when the client asked for one; a miss is served as usual and stored once it completed.
 */
export class ResponseCache implements ResponseCachePort {
  /** Stores under way; `flush` waits for them (shutdown, before the store closes). */
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly config: CacheConfig,
    /** Where answers are kept (a primary process lends it to its workers). */
    readonly backend: ResponseCacheBackend,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  plan(req: GatewayRequest): CachePlan | undefined {
    if (!this.config.enabled) return undefined;
    const project = req.project === undefined ? undefined : this.config.projects[req.project];
    const mode = req.cacheMode ?? project?.default ?? this.config.default;
    if (mode === 'skip' || uncacheable(req) !== undefined) return undefined;
    const scope = cacheScope(req, this.config);
    if (scope === undefined) return undefined;
    return { mode, key: cacheKey(req, scope), ttlMs: (project?.ttl_seconds ?? this.config.ttl_seconds) * 1000 };
  }

  async lookup(plan: CachePlan, req: GatewayRequest): Promise<{ prepared: Prepared; model: string } | undefined> {
    if (plan.mode !== 'use') return undefined;
    let answer: CachedAnswer | undefined;
    try {
      answer = await this.backend.get(plan.key);
    } catch (err) {
      // A cache that cannot be read is a miss, never a failed request.
      this.logger.warn({ err: (err as Error).message, requestId: req.id }, 'response cache read failed; serving uncached');
      return undefined;
    }
    if (!answer) return undefined;
    const stream = req.stream ? { includeUsage: includeUsageRequested(req.format, req.body) } : undefined;
    return {
      prepared: { body: replayResponse(req.format, answer.response, stream), warnings: [], contentType: stream ? SSE_TYPE : JSON_TYPE },
      model: answer.model,
    };
  }

  /** The response as served, storing the answer once it is complete (a stream: when it ended without an error). */
  fill(plan: CachePlan, req: GatewayRequest, prepared: Prepared, meter: Meter, model: string): Prepared {
    const { body } = prepared;
    if (body.kind !== 'sse') {
      this.track(this.store(plan, req, model, meter, body));
      return prepared;
    }
    const chunks: string[] = [];
    let size = 0;
    const limit = this.config.max_entry_bytes * SSE_OVERHEAD;
    const decoder = new TextDecoder();
    async function* tapped(source: AsyncGenerator<string | Uint8Array>) {
      for await (const chunk of source) {
        if (size <= limit) {
          const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
          size += text.length;
          chunks.push(text);
        }
        yield chunk;
      }
    }
    const events = onStreamEnd(tapped(body.events), (error, completed) => {
      if (!completed || error !== undefined || meter.error !== undefined || size > limit) return;
      this.track(this.store(plan, req, model, meter, { kind: 'sse', text: chunks.join('') }));
    });
    return { ...prepared, body: { kind: 'sse', events } };
  }

  private async store(
    plan: CachePlan, req: GatewayRequest, model: string, meter: Meter, answer: Exclude<ResponseBody, { kind: 'sse' }> | { kind: 'sse'; text: string },
  ): Promise<void> {
    try {
      const decoded = await canonicalOfAnswer(req.format, answer);
      // The usage the gateway measured (asked of the upstream even when the client did not want it in its stream).
      const measured = meter.usage;
      const response = measured?.inputTokens !== undefined && measured.outputTokens !== undefined
        ? { ...decoded, usage: { ...decoded.usage, ...measured, inputTokens: measured.inputTokens, outputTokens: measured.outputTokens } }
        : decoded;
      // An answer cut short by an error is not one to serve again.
      if (response.stopReason === 'error') return;
      const storedAt = this.now();
      const entry: CachedAnswer = { storedAt, expiresAt: storedAt + plan.ttlMs, model, response };
      const bytes = Buffer.byteLength(JSON.stringify(entry));
      if (bytes > this.config.max_entry_bytes) return;
      await this.backend.set(plan.key, entry, bytes);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, requestId: req.id }, 'response cache write failed');
    }
  }

  /** Resolves once every answer handed to the cache so far is stored (or failed to be). */
  async flush(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes]);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.backend.close();
  }

  private track(write: Promise<void>): void {
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }
}
