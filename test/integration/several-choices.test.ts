import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * `n` > 1 on chat completions gets one answer whatever the provider type behind the model: served where the target
 * returns several choices to an OpenAI client (an OpenAI provider, passed through), otherwise the same 400
 * `not_translatable` with param `n` (README "Errors"), before anything is sent upstream — never one choice where
 * several were asked for.
 */
let mock: MockUpstream;
let node: TestGateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  const p = mockProviders(mock);
  node = await startTestGateway([
    p.openai, p.anthropic, p.gemini,
    { id: 'pplx', type: 'perplexity', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['sonar'], max_retries: 0 },
    { id: 'resp', type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['o3-pro'], endpoints: ['responses'], max_retries: 0 },
  ], {
    models: [{ name: 'claude-then-gpt', targets: [{ provider: 'anthropic', model: 'claude-sonnet-4-5' }, { provider: 'openai', model: 'gpt-4o' }] }],
  });
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

beforeEach(() => mock.reset());

async function post(path: string, body: unknown) {
  const response = await fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { error?: { code: string | number; param: string | null; message: string }; choices?: unknown[] } };
}

const chat = (model: string, n: number) => post('/v1/chat/completions', { model, n, messages: [{ role: 'user', content: 'hi' }] });

describe('n > 1 on chat completions', () => {
  for (const [type, model] of [['anthropic', 'claude-sonnet-4-5'], ['gemini', 'gemini-2.5-flash'], ['an OpenAI-compatible preset that does not take n', 'sonar'], ['a Responses-only OpenAI model', 'o3-pro']]) {
    it(`${type}: 400 not_translatable naming n, nothing sent upstream`, async () => {
      const result = await chat(model!, 2);
      expect(result.status).toBe(400);
      expect(result.body.error).toMatchObject({ code: 'not_translatable', param: 'n' });
      expect(result.body.error?.message).toContain('n = 2');
      expect(mock.requests).toHaveLength(0);
    });
  }

  it('n = 1 to the same targets is served', async () => {
    for (const model of ['claude-sonnet-4-5', 'gemini-2.5-flash', 'sonar', 'o3-pro']) expect((await chat(model, 1)).status).toBe(200);
  });

  it('an OpenAI provider serves it (passed through with n)', async () => {
    const result = await chat('gpt-4o', 2);
    expect(result.status).toBe(200);
    expect(mock.requests.at(-1)?.body).toMatchObject({ n: 2 });
  });

  it('a group fails over from a one-choice target to one that serves n', async () => {
    const result = await chat('claude-then-gpt', 3);
    expect(result.status).toBe(200);
    expect(mock.requests.map((r) => r.path)).toEqual([expect.stringContaining('/chat/completions')]);
  });

  it('a Gemini client asking candidateCount > 1 of a Claude model gets the same answer', async () => {
    const result = await post('/v1beta/models/claude-sonnet-4-5:generateContent', { contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { candidateCount: 2 } });
    // Gemini's error shape carries no code of ours: the status and the message say it.
    expect(result.status).toBe(400);
    expect(result.body.error).toMatchObject({ status: 'INVALID_ARGUMENT', message: expect.stringContaining('n = 2') });
    expect(mock.requests).toHaveLength(0);
  });
});
