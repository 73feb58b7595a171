import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { TEST_KEY, primaryAndBackup, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { readUntilError } from '../helpers/streams.js';

const ctx = primaryAndBackup((primary, backup) => [
  { id: 'primary', type: 'openai', base_url: primary.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 1, timeouts: { first_byte_ms: 400, idle_ms: 400 } },
  { id: 'backup', type: 'anthropic', base_url: backup.anthropicBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], model_map: { 'gpt-4o': 'claude-backup' } },
], { routing: { max_retry_wait_ms: 1_000, circuit_breaker: { failure_threshold: 100, cooldown_ms: 60_000 } } });
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(() => {
  openai = new OpenAI({ baseURL: `${ctx.node.url}/v1`, apiKey: 'x', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: ctx.node.url, apiKey: 'x', maxRetries: 0 });
});

const ask = (content = 'hello') => openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }).withResponse();

describe('failover between providers', () => {
  it('retries a 500 once on the same provider, then fails over to the next', async () => {
    ctx.primary.enqueue({ kind: 'error', status: 500 }, { kind: 'error', status: 500 });
    const { data, response } = await ask();
    expect(response.headers.get('x-meshgate-provider')).toBe('backup');
    expect(response.headers.get('x-meshgate-attempts')).toBe('3');
    expect(data.choices[0]!.message.content).toContain('claude-backup says: hello');
    expect(ctx.primary.requests).toHaveLength(2);
    expect(ctx.backup.requests).toHaveLength(1);
  });

  it('honours a short Retry-After on the same provider', async () => {
    ctx.primary.enqueue({ kind: 'error', status: 429, retryAfter: 0 });
    const { response } = await ask();
    expect(response.headers.get('x-meshgate-provider')).toBe('primary');
    expect(response.headers.get('x-meshgate-attempts')).toBe('2');
  });

  it('does not wait out a long Retry-After: it moves to the next provider at once', async () => {
    ctx.primary.enqueue({ kind: 'error', status: 429, retryAfter: 120 });
    const { response } = await ask();
    expect(response.headers.get('x-meshgate-provider')).toBe('backup');
    expect(ctx.primary.requests).toHaveLength(1);
  });

  it('fails over when a provider never answers (first-byte timeout) or resets the connection', async () => {
    ctx.primary.enqueue({ kind: 'hang' }, { kind: 'reset' });
    const { response } = await ask();
    expect(response.headers.get('x-meshgate-provider')).toBe('backup');
    expect(response.headers.get('x-meshgate-attempts')).toBe('3');
  });

  it('fails over a stream whose provider sent headers but no event before the idle timeout', async () => {
    ctx.primary.enqueue({ kind: 'hang_after_headers' }, { kind: 'hang_after_headers' });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'late' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toContain('claude-backup says: late');
  });

  it('sends a proper error event when a stream breaks after the first byte (OpenAI SDK)', async () => {
    ctx.primary.enqueue({ kind: 'fail_mid_stream', afterChunks: 3 });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'one two three four five six seven' }] });
    const { received, error } = await readUntilError(stream);
    expect(received).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toMatch(/primary/);
    expect(ctx.backup.requests).toHaveLength(0); // never a second answer after bytes reached the client
  });

  it('sends a proper error event when a stream breaks after the first byte (Anthropic SDK)', async () => {
    ctx.primary.enqueue({ kind: 'fail_mid_stream', afterChunks: 3 });
    const stream = anthropic.messages.stream({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'one two three four five six seven' }] });
    const error = await stream.finalMessage().catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String(error.message)).toMatch(/primary/);
  });

  it('answers 502 naming every provider tried, in the client format', async () => {
    ctx.primary.setDefault({ kind: 'error', status: 503 });
    ctx.backup.setDefault({ kind: 'error', status: 500 });
    const response = await fetch(`${ctx.node.url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(502);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toContain('primary');
    expect(body.error.message).toContain('backup');
  });

  it('aborts the upstream request when the client disconnects mid-stream', async () => {
    ctx.primary.setDefault({ kind: 'slow', chunkDelayMs: 150 });
    const before = ctx.node.outcomes.length;
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'a b c d e f g h i j k l m n o p' }] },
      { signal: controller.signal },
    );
    const consumed = (async () => {
      for await (const _chunk of stream) controller.abort();
    })().catch(() => undefined);
    await consumed;
    await expect.poll(() => ctx.primary.abortedByClient(), { timeout: 5_000 }).toBe(1);
    const outcomes = await ctx.node.waitForOutcomes(before + 1);
    expect(outcomes[before]!.clientAborted).toBe(true);
  });
});

describe('circuit breaker', () => {
  let local: TestGateway;
  afterAll(async () => local?.close());

  it('stops sending to a failing provider, then probes it again after the cool-down', async () => {
    local = await startTestGateway(
      [
        { id: 'flaky', type: 'openai', base_url: ctx.primary.openaiBaseUrl, api_key: TEST_KEY, models: ['m'], max_retries: 0 },
        { id: 'steady', type: 'openai', base_url: ctx.backup.openaiBaseUrl, api_key: TEST_KEY, models: ['m'] },
      ],
      { routing: { circuit_breaker: { failure_threshold: 2, cooldown_ms: 60_000 } } },
    );
    // The breaker reads Date.now(): a long cool-down keeps the open phase open however slow the machine is, and the
    // clock is moved past it instead of waiting (it still runs, so sockets and timers behave as usual).
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    onTestFinished(() => void vi.useRealTimers());
    const client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const call = () => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    ctx.primary.setDefault({ kind: 'error', status: 500 });
    await call();
    await call();
    expect(ctx.primary.requests).toHaveLength(2);
    const open = await call();
    expect(open.response.headers.get('x-meshgate-provider')).toBe('steady');
    expect(open.response.headers.get('x-meshgate-attempts')).toBe('1');
    expect(ctx.primary.requests).toHaveLength(2); // not even tried while open
    const health = (await (await fetch(`${local.url}/health`)).json()) as { providers: Array<{ id: string; circuit: string }> };
    expect(health.providers.find((p) => p.id === 'flaky')!.circuit).toBe('open');

    ctx.primary.setDefault({ kind: 'ok' });
    vi.setSystemTime(Date.now() + 60_001);
    const probed = await call();
    expect(probed.response.headers.get('x-meshgate-provider')).toBe('flaky');
    const after = (await (await fetch(`${local.url}/health`)).json()) as { providers: Array<{ id: string; circuit: string }> };
    expect(after.providers.find((p) => p.id === 'flaky')!.circuit).toBe('closed');
  });

  it('panic mode: a model whose only provider failed 5 times is served as soon as the provider recovers, not refused for the cool-down', async () => {
    const single = await startTestGateway(
      [{ id: 'only', type: 'openai', base_url: ctx.primary.openaiBaseUrl, api_key: TEST_KEY, models: ['solo'], max_retries: 0 }],
      { routing: { circuit_breaker: { failure_threshold: 5, cooldown_ms: 600_000 } } },
    );
    try {
      const client = new OpenAI({ baseURL: `${single.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const call = () => client.chat.completions.create({ model: 'solo', messages: [{ role: 'user', content: 'x' }] }).withResponse();
      ctx.primary.setDefault({ kind: 'error', status: 500 });
      for (let i = 0; i < 5; i++) await expect(call()).rejects.toMatchObject({ status: 502 });
      const health = (await (await fetch(`${single.url}/health`)).json()) as { providers: Array<{ id: string; circuit: string }> };
      expect(health.providers.find((p) => p.id === 'only')!.circuit).toBe('open');
      // Still failing while open: the provider's own failure is the answer (502), once, never a blanket 503.
      await expect(call()).rejects.toMatchObject({ status: 502 });
      expect(ctx.primary.requests).toHaveLength(6);

      ctx.primary.setDefault({ kind: 'ok' });
      const served = await call();
      expect(served.response.status).toBe(200);
      expect(served.response.headers.get('x-meshgate-provider')).toBe('only');
      expect(served.data.choices[0]!.message.content).toBeTruthy();
      const after = (await (await fetch(`${single.url}/health`)).json()) as { providers: Array<{ id: string; circuit: string }> };
      expect(after.providers.find((p) => p.id === 'only')!.circuit).toBe('closed');
    } finally {
      await single.close();
    }
  });

  it('panic mode off: the same model is refused with 503 for the cool-down', async () => {
    const strict = await startTestGateway(
      [{ id: 'only', type: 'openai', base_url: ctx.primary.openaiBaseUrl, api_key: TEST_KEY, models: ['solo'], max_retries: 0 }],
      { routing: { circuit_breaker: { failure_threshold: 5, cooldown_ms: 600_000, panic: false } } },
    );
    try {
      const client = new OpenAI({ baseURL: `${strict.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const call = () => client.chat.completions.create({ model: 'solo', messages: [{ role: 'user', content: 'x' }] });
      ctx.primary.setDefault({ kind: 'error', status: 500 });
      for (let i = 0; i < 5; i++) await expect(call()).rejects.toMatchObject({ status: 502 });
      ctx.primary.setDefault({ kind: 'ok' });
      await expect(call()).rejects.toMatchObject({ status: 503, code: 'providers_unavailable' });
      expect(ctx.primary.requests).toHaveLength(5);
    } finally {
      await strict.close();
    }
  });
});
