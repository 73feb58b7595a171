import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY, primaryAndBackup } from '../helpers/gateway.js';

/** Failover works for Responses clients as for chat: pass-through primary, translated backup, before the first byte. */
const ctx = primaryAndBackup((primary, backup) => [
  { id: 'primary', type: 'openai', base_url: primary.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 },
  { id: 'backup', type: 'anthropic', base_url: backup.anthropicBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], model_map: { 'gpt-4o': 'claude-backup' } },
], { routing: { circuit_breaker: { failure_threshold: 100, cooldown_ms: 60_000 } } });
let openai: OpenAI;

beforeAll(() => {
  openai = new OpenAI({ baseURL: `${ctx.node.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

describe('failover for Responses clients', () => {
  it('moves from a failing OpenAI Responses provider to an Anthropic one', async () => {
    ctx.primary.enqueue({ kind: 'error', status: 500 });
    const { data, response } = await openai.responses.create({ model: 'gpt-4o', input: 'hello' }).withResponse();
    expect(response.headers.get('x-meshgate-provider')).toBe('backup');
    expect(response.headers.get('x-meshgate-attempts')).toBe('2');
    expect(data.output_text).toContain('claude-backup says: hello');
    expect(ctx.primary.requests.at(-1)!.path).toBe('/v1/responses');
  });

  it('fails over a stream whose upstream broke before its first event', async () => {
    ctx.primary.enqueue({ kind: 'reset' });
    const final = await openai.responses.stream({ model: 'gpt-4o', input: 'stream after reset' }).finalResponse();
    expect(final.output_text).toContain('claude-backup says: stream after reset');
  });

  it('names the built-in tool when the only provider that could run it fails and the next cannot', async () => {
    ctx.primary.enqueue({ kind: 'error', status: 503 });
    await expect(openai.responses.create({ model: 'gpt-4o', input: 'news', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] }))
      .rejects.toMatchObject({ status: 502, message: expect.stringMatching(/primary.*503[\s\S]*backup.*'code_interpreter'/) });
    expect(ctx.backup.requests).toHaveLength(0);
  });
});
