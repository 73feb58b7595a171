import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY, primaryAndBackup } from '../helpers/gateway.js';
import { readUntilError } from '../helpers/streams.js';

/**
 * The total timeout bounds a whole exchange with a provider (body included), independently of the first-byte and
 * idle timeouts; an upstream that answers 200 with a body that is not JSON is a failed attempt, not a 500.
 */
const ctx = primaryAndBackup((primary, backup) => [
  // First-byte and idle timeouts far above the total: only the total timeout can end these attempts.
  { id: 'primary', type: 'openai', base_url: primary.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0, timeouts: { first_byte_ms: 10_000, idle_ms: 10_000, total_ms: 400 } },
  { id: 'backup', type: 'openai', base_url: backup.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'] },
], { routing: { circuit_breaker: { failure_threshold: 100, cooldown_ms: 60_000 } } });
let openai: OpenAI;

beforeAll(() => {
  openai = new OpenAI({ baseURL: `${ctx.node.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

describe('provider timeouts and broken answers', () => {
  it('fails over when the total timeout passes before the provider answers', async () => {
    ctx.primary.enqueue({ kind: 'hang' });
    const before = ctx.node.outcomes.length;
    const { response } = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'in time?' }] }).withResponse();
    expect(response.headers.get('x-meshgate-provider')).toBe('backup');
    const [outcome] = (await ctx.node.waitForOutcomes(before + 1)).slice(before);
    expect(outcome!.attempts[0]).toMatchObject({ target: 'primary', ok: false, code: 'upstream_timeout' });
    expect(outcome!.attempts[0]!.error).toMatch(/total timeout of 400 ms/);
  });

  it('ends a stream that outlives the total timeout with an error event, after the first bytes', async () => {
    // Each chunk arrives well within the idle timeout, but the whole stream takes longer than 400 ms.
    ctx.primary.enqueue({ kind: 'slow', chunkDelayMs: 100 });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }] });
    const { received, error } = await readUntilError(stream);
    expect(received).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toMatch(/total timeout of 400 ms exceeded/);
    expect(ctx.backup.requests).toHaveLength(0);
  });

  it('treats a 200 whose body is not JSON as a failed attempt and fails over', async () => {
    ctx.primary.enqueue({ kind: 'malformed' });
    const before = ctx.node.outcomes.length;
    const { data, response } = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'parse me' }] }).withResponse();
    expect(response.headers.get('x-meshgate-provider')).toBe('backup');
    expect(data.choices[0]!.message.content).toContain('says: parse me');
    const [outcome] = (await ctx.node.waitForOutcomes(before + 1)).slice(before);
    expect(outcome!.attempts[0]).toMatchObject({ target: 'primary', ok: false, code: 'upstream_invalid_response' });
  });

  it('never passes on what an upstream says when it refuses the key (it can quote part of it)', async () => {
    ctx.primary.enqueue({ kind: 'error', status: 401, message: 'Incorrect API key provided: sk-proj-****WXYZ. You can find your API key at …' });
    ctx.backup.enqueue({ kind: 'error', status: 401, message: 'Incorrect API key provided: sk-proj-****QRST.' });
    const before = ctx.node.outcomes.length;
    const error = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'who am I' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    const text = JSON.stringify((error as InstanceType<typeof OpenAI.APIError>).error);
    expect(text).toMatch(/refused this gateway's credentials/);
    expect(text).not.toMatch(/WXYZ|QRST/);
    const [outcome] = (await ctx.node.waitForOutcomes(before + 1)).slice(before);
    expect(JSON.stringify(outcome!.attempts)).not.toMatch(/WXYZ|QRST/);
  });

  it('answers 502 in the client format when the only provider sends a body that is not JSON', async () => {
    ctx.primary.enqueue({ kind: 'malformed' });
    // The backup is retried (max_retries defaults to 2): every try gets a broken body.
    ctx.backup.enqueue({ kind: 'malformed' }, { kind: 'malformed' }, { kind: 'malformed' });
    const error = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'parse me' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect(String((error as Error).message)).toMatch(/primary.*not valid JSON.*backup.*not valid JSON/);
  });
});
