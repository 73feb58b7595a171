import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  cacheConfigSchema, cacheKey, canonicalOfAnswer, parseCacheMode, replayResponse, ResponseCache, type CachedAnswer, type ResponseCacheBackend,
} from '../../../src/cache/index.js';
import type { WireFormat } from '../../../src/core/index.js';
import type { CanonicalResponse } from '../../../src/formats/canonical.js';
import { newMeter } from '../../../src/pipeline/streaming.js';
import type { GatewayRequest } from '../../../src/pipeline/types.js';

const logger = pino({ level: 'silent' });

function request(init: Partial<GatewayRequest> = {}): GatewayRequest {
  return {
    id: 'req_1', format: 'openai', operation: 'chat', model: 'gpt-4o', stream: false, signal: new AbortController().signal,
    principal: { kind: 'virtual_key', id: 'team-a' }, receivedAt: 0, hop: { count: 0, visited: [] },
    body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 0 },
    ...init,
  };
}

/** A backend in memory with its own clock (the LevelDB one has its own tests). */
class MemoryBackend implements ResponseCacheBackend {
  readonly entries = new Map<string, CachedAnswer>();
  constructor(private readonly now: () => number) {}
  async get(key: string) {
    const entry = this.entries.get(key);
    return entry && entry.expiresAt > this.now() ? entry : undefined;
  }
  async set(key: string, answer: CachedAnswer) {
    this.entries.set(key, answer);
  }
  async close() {}
}

const config = (extra: Record<string, unknown> = {}) => cacheConfigSchema.parse({ enabled: true, default: 'use', ...extra });

describe('cache key', () => {
  it('ignores key order and delivery fields, never shares between principals, and changes with what changes the answer', () => {
    const base = request();
    const key = cacheKey(base, 'principal:a');
    expect(cacheKey(request({ body: { temperature: 0, messages: [{ content: 'hi', role: 'user' }], model: 'gpt-4o' } }), 'principal:a')).toBe(key);
    expect(cacheKey(request({ stream: true, body: { ...base.body, stream: true, stream_options: { include_usage: true }, user: 'u1' } }), 'principal:a')).toBe(key);
    expect(cacheKey(base, 'principal:b')).not.toBe(key);
    expect(cacheKey(request({ body: { ...base.body, temperature: 1 } }), 'principal:a')).not.toBe(key);
    expect(cacheKey(request({ body: { ...base.body, tools: [{ type: 'function', function: { name: 't', parameters: {} } }] } }), 'principal:a')).not.toBe(key);
    expect(cacheKey(request({ body: { ...base.body, logit_bias: { '50256': -100 } } }), 'principal:a')).not.toBe(key);
    expect(cacheKey(request({ model: 'gpt-4o-mini', body: { ...base.body, model: 'gpt-4o-mini' } }), 'principal:a')).not.toBe(key);
  });
});

describe('ResponseCache.plan', () => {
  const cache = (extra?: Record<string, unknown>) => new ResponseCache(config(extra), new MemoryBackend(Date.now), logger);

  it('is off unless enabled, and follows header > project default > config default', () => {
    expect(new ResponseCache(cacheConfigSchema.parse({}), new MemoryBackend(Date.now), logger).plan(request({ cacheMode: 'use' }))).toBeUndefined();
    const skipByDefault = cache({ default: 'skip', projects: { docs: { default: 'use' } } });
    expect(skipByDefault.plan(request())).toBeUndefined();
    expect(skipByDefault.plan(request({ project: 'docs' }))?.mode).toBe('use');
    expect(skipByDefault.plan(request({ project: 'docs', cacheMode: 'skip' }))).toBeUndefined();
    expect(skipByDefault.plan(request({ cacheMode: 'refresh' }))?.mode).toBe('refresh');
  });

  it('gives anonymous callers no cache, and refuses what a canonical response cannot hold', () => {
    const c = cache();
    expect(c.plan(request({ principal: { kind: 'public' } }))).toBeUndefined();
    expect(c.plan(request({ body: { ...request().body, n: 2 } }))).toBeUndefined();
    expect(c.plan(request({ body: { ...request().body, logprobs: true } }))).toBeUndefined();
    expect(c.plan(request({ operation: 'embeddings' }))).toBeUndefined();
    expect(c.plan(request({ principal: { kind: 'public' }, project: 'shared' }))).toBeUndefined();
    expect(cache({ projects: { shared: { shared: true } } }).plan(request({ principal: { kind: 'public' }, project: 'shared' }))).toBeDefined();
  });

  it('takes the TTL of the project, else of the config, and stops serving an entry when it ends', async () => {
    let now = 1_000;
    const c = new ResponseCache(config({ ttl_seconds: 600, projects: { fast: { ttl_seconds: 5 } } }), new MemoryBackend(() => now), logger, () => now);
    expect(c.plan(request())?.ttlMs).toBe(600_000);
    const req = request({ project: 'fast' });
    const plan = c.plan(req)!;
    expect(plan.ttlMs).toBe(5_000);
    const value = { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } };
    c.fill(plan, req, { body: { kind: 'json', value }, warnings: [], contentType: 'application/json' }, newMeter(0), 'gpt-4o');
    await c.flush();
    expect((await c.lookup(plan, req))?.model).toBe('gpt-4o');
    now += 5_000;
    expect(await c.lookup(plan, req)).toBeUndefined();
  });

  it('parses the header, refusing unknown modes', () => {
    expect(parseCacheMode(undefined)).toBeUndefined();
    expect(parseCacheMode(' Refresh ')).toBe('refresh');
    expect(() => parseCacheMode('always')).toThrow(/x-meshgate-cache/);
  });
});

describe('replayed streams', () => {
  const response: CanonicalResponse = {
    id: 'msg_1', model: 'm', created: 1_700_000_000, stopReason: 'tool_calls', usage: { inputTokens: 12, outputTokens: 7 },
    content: [{ type: 'text', text: 'Let me look.' }, { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
  };

  it.each<WireFormat>(['openai', 'anthropic', 'gemini'])('%s: a stored response replayed as a stream reads back as the same response', async (format) => {
    const body = replayResponse(format, response, { includeUsage: true });
    if (body.kind !== 'sse') throw new Error('expected a stream');
    let text = '';
    for await (const chunk of body.events) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    const back = await canonicalOfAnswer(format, { kind: 'sse', text });
    expect(back.content.map((p) => (p.type === 'tool_call' ? [p.name, JSON.parse(p.arguments)] : p))).toEqual([{ type: 'text', text: 'Let me look.' }, ['get_weather', { city: 'Paris' }]]);
    expect(back.stopReason).toBe('tool_calls');
    expect(back.usage).toMatchObject({ inputTokens: 12, outputTokens: 7 });
  });
});
