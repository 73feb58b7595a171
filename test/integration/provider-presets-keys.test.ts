import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { Outcome } from '../../src/pipeline/types.js';
import { createLogger } from '../../src/logging/logger.js';
import { PriceBook } from '../../src/pricing/index.js';
import { usageRecordFromOutcome } from '../../src/records/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { lineSink } from '../helpers/log-lines.js';

/**
 * A named preset's quirks make a strict OpenAI-compatible server take the request; several keys share the load, a
 * rate-limited key rests while the others carry on, and no key value reaches a log line, a record or an error.
 */

const KEY_A = 'test-key';
const KEY_B = 'second-key-value-that-must-not-leak';
let strict: MockUpstream;
let pooled: MockUpstream;
let dir: string;
let node: Gateway;
let url: string;
const lines: string[] = [];
const outcomes: Outcome[] = [];

beforeAll(async () => {
  // Refuses what Mistral refuses: max_completion_tokens (it knows max_tokens), stream_options, seed (its random_seed).
  strict = await startMockUpstream({ refuseFields: ['max_completion_tokens', 'stream_options', 'seed'] });
  pooled = await startMockUpstream({ extraKeys: [KEY_B] });
  dir = await mkdtemp(join(tmpdir(), 'meshgate-presets-'));
  const sink = lineSink(lines);
  const config = parseConfig({
    server: { host: '127.0.0.1', port: 0 }, storage: { dir }, routing: { backoff_ms: 1, max_retry_wait_ms: 0 },
    providers: [
      { id: 'mistral', type: 'mistral', base_url: strict.openaiBaseUrl, api_key: KEY_A, models: ['mistral-small-latest'] },
      { id: 'plain', type: 'openai_compatible', base_url: strict.openaiBaseUrl, api_key: KEY_A, models: ['plain-model'], max_retries: 0 },
      {
        id: 'pooled', type: 'groq', base_url: pooled.openaiBaseUrl, models: ['gpt-4o', 'refused-model'], max_retries: 0,
        keys: [{ label: 'alpha', key: KEY_A }, { label: 'beta', key: KEY_B }], key_rest_seconds: 0.05, key_rest_max_seconds: 0.2,
      },
      {
        id: 'all-wrong', type: 'openai_compatible', base_url: pooled.openaiBaseUrl, models: ['wrong-keys'], max_retries: 0,
        api_keys: ['wrong-key-one-must-not-leak', 'wrong-key-two-must-not-leak'],
      },
    ],
  }, 'presets test', {});
  node = await Gateway.start(config, { logger: createLogger({ level: 'debug', destination: sink }) });
  node.onComplete((o) => void outcomes.push(o));
  url = node.url;
});

afterEach(() => {
  strict.reset();
  pooled.reset();
});

afterAll(async () => {
  await node?.close();
  await strict?.close();
  await pooled?.close();
  await rm(dir, { recursive: true, force: true });
});

const openai = () => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });

describe('named OpenAI-compatible presets', () => {
  it('a strict server refuses the OpenAI body as it is (the control: no preset)', async () => {
    await expect(openai().chat.completions.create({ model: 'plain-model', max_completion_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }))
      .rejects.toMatchObject({ status: 400 });
  });

  it('the preset\'s quirks make it take the same request: max_tokens, no stream_options, random_seed (OpenAI SDK, streamed and not)', async () => {
    const reply = await openai().chat.completions.create({ model: 'mistral-small-latest', max_completion_tokens: 50, seed: 7, messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]!.message.content).toContain('hi');
    const sent = strict.requests.at(-1)!.body;
    expect(sent).toMatchObject({ max_tokens: 50, random_seed: 7 });
    expect(sent).not.toHaveProperty('max_completion_tokens');

    const stream = await openai().chat.completions.create({ model: 'mistral-small-latest', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'streamed' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toContain('streamed');
    expect(strict.requests.at(-1)!.body).not.toHaveProperty('stream_options');
  });

  it('names each field a quirk leaves out in x-meshgate-warnings, and nothing for fields it only renames', async () => {
    const { data, response } = await openai().chat.completions.create({
      model: 'gpt-4o', logprobs: true, top_logprobs: 2, max_tokens: 20, messages: [{ role: 'user', content: 'groq' }],
    }).withResponse();
    expect(data.choices[0]!.message.content).toContain('groq');
    const sent = pooled.requests.at(-1)!.body;
    expect(sent).not.toHaveProperty('logprobs');
    expect(sent).toMatchObject({ max_completion_tokens: 20 });
    expect(response.headers.get('x-meshgate-warnings')).toBe('logprobs (Groq does not take it), top_logprobs (Groq does not take it)');
    expect(outcomes.at(-1)!.warnings).toEqual(['logprobs (Groq does not take it)', 'top_logprobs (Groq does not take it)']);

    // A field of each message Groq refuses (messages[].name): left out of every message, named once.
    const { response: named } = await openai().chat.completions.create({
      model: 'gpt-4o', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', name: 'ada', content: 'named' }],
    }).withResponse();
    expect(pooled.requests.at(-1)!.body.messages).toEqual([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'named' }]);
    expect(named.headers.get('x-meshgate-warnings')).toBe('messages[].name (Groq does not take it)');

    // Renamed (seed → random_seed) and the gateway's own stream_options: no warning.
    const { response: renamed } = await openai().chat.completions.create({ model: 'mistral-small-latest', seed: 3, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(renamed.headers.get('x-meshgate-warnings')).toBeNull();
  });

  it('applies them to a translated body too (Anthropic client)', async () => {
    const anthropic = new Anthropic({ baseURL: url, apiKey: 'x', maxRetries: 0 });
    const message = await anthropic.messages.create({ model: 'mistral-small-latest', max_tokens: 40, messages: [{ role: 'user', content: 'translated' }] });
    expect(message.content[0]).toMatchObject({ type: 'text' });
    expect(strict.requests.at(-1)!.body).toMatchObject({ max_tokens: 40 });
  });
});

describe('several keys per provider', () => {
  const keyOf = (i: number) => pooled.requests[i]!.headers.authorization;

  it('spreads requests over the keys', async () => {
    for (let i = 0; i < 4; i++) await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `spread ${i}` }] });
    const used = pooled.requests.map((_, i) => keyOf(i));
    expect(used.filter((k) => k === `Bearer ${KEY_A}`)).toHaveLength(2);
    expect(used.filter((k) => k === `Bearer ${KEY_B}`)).toHaveLength(2);
  });

  it('rests a rate-limited key while the other carries on (no failed request), and takes it back after its back-off', async () => {
    pooled.rateLimitKey(KEY_B);
    const before = outcomes.length;
    for (let i = 0; i < 6; i++) {
      const reply = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `limited ${i}` }] });
      expect(reply.choices[0]!.message.content).toContain(`limited ${i}`);
    }
    const limited = outcomes.slice(before).flatMap((o) => o.attempts).filter((a) => a.keys?.some((k) => k.status === 429));
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.keys).toEqual([{ key: 'beta', status: 429 }, { key: 'alpha' }]);
    expect(limited[0]!.ok).toBe(true);

    pooled.clearRateLimit(KEY_B);
    await vi.waitFor(async () => {
      await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'back' }] });
      expect(pooled.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY_B}`);
    }, { timeout: 5_000, interval: 20 });
    const served = outcomes.at(-1)!;
    expect(served.attempts.at(-1)!.keys).toEqual([{ key: 'beta' }]);
  });

  it('names keys by label in records, never by value; refused keys leave no value in errors or logs', async () => {
    const error = await openai().chat.completions.create({ model: 'wrong-keys', messages: [{ role: 'user', content: 'refused' }] }).catch((e: unknown) => e as { status: number; message: string });
    expect(error).toMatchObject({ status: expect.any(Number) });
    const failed = outcomes.at(-1)!;
    expect(failed.attempts[0]!.keys).toEqual([{ key: 'key-1', status: 401 }, { key: 'key-2', status: 401 }]);
    const records = outcomes.map((o) => usageRecordFromOutcome(o, { priceBook: new PriceBook() }));
    const everything = [JSON.stringify(records), JSON.stringify(error), ...lines].join('\n');
    for (const secret of [KEY_B, 'wrong-key-one-must-not-leak', 'wrong-key-two-must-not-leak']) expect(everything).not.toContain(secret);
    expect(JSON.stringify(records)).toContain('"key":"beta"');

    const listed = await (await fetch(`${url}/v1/providers`)).json() as { data: Array<Record<string, unknown>> };
    expect(listed.data.find((p) => p.id === 'pooled')).toMatchObject({ type: 'openai_compatible', preset: 'groq', keys: ['alpha', 'beta'] });
    expect(listed.data.find((p) => p.id === 'all-wrong')).toMatchObject({ keys: ['key-1', 'key-2'] });
    expect(JSON.stringify(listed)).not.toMatch(/must-not-leak/);
  });
});
