import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const PROVIDER_KEY = 'sk-proj-provider-secret-0123456789';

let mock: MockUpstream;
let node: TestGateway;

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: PROVIDER_KEY });
  node = await startTestGateway(
    [
      { id: 'openai', type: 'openai', base_url: mock.openaiBaseUrl, api_key: PROVIDER_KEY, models: ['gpt-4o', 'gpt-4o-mini'] },
      { id: 'wrongkey', type: 'anthropic', base_url: mock.anthropicBaseUrl, api_key: 'sk-ant-wrong-key-987654321', models: ['claude-only'] },
    ],
    { server: { body_limit: 4_096 } },
  );
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('errors in the client format', () => {
  it('400 for malformed JSON, OpenAI shape', async () => {
    const res = await post('/v1/chat/completions', '{"model": "gpt-4o", ');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.code).toBe('invalid_json');
  });

  it('400 for malformed JSON, Anthropic shape', async () => {
    const res = await post('/v1/messages', '{nope', { 'anthropic-version': '2023-06-01' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { type: string; error: { type: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('400 naming a bad field', async () => {
    const res = await post('/v1/chat/completions', JSON.stringify({ model: 'gpt-4o', messages: 'hello' }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; param: string | null } };
    expect(`${body.error.param} ${body.error.message}`).toContain('messages');
    const missing = await post('/v1/chat/completions', JSON.stringify({ messages: [] }));
    expect(((await missing.json()) as { error: { param: string } }).error.param).toBe('model');
  });

  it('404 for an unknown model, with close matches', async () => {
    const client = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const error = await client.chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.message).toContain("'gpt-4o'");
    expect(error.code).toBe('model_not_found');
  });

  it('400 for a model name too long to be one (body and Gemini path), without echoing it', async () => {
    const model = 'm'.repeat(1_000);
    const res = await post('/v1/chat/completions', JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('model');
    expect(body.error.message.length).toBeLessThan(200);
    const gemini = await fetch(`${node.url}/v1beta/models/${'m'.repeat(300)}:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }) });
    expect(gemini.status).toBe(400);
    expect(((await gemini.json()) as { error: { message: string } }).error.message.length).toBeLessThan(200);
    // Past what any route takes, the router itself refuses it — in the same (Gemini) error shape.
    const huge = await fetch(`${node.url}/v1beta/models/${'m'.repeat(2_000)}:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(huge.status).toBe(414);
    expect(await huge.json()).toEqual({ error: { code: 414, status: 'INVALID_ARGUMENT', message: expect.any(String) } });
  });

  it('a dropped field whose name holds control or non-Latin characters is named in x-meshgate-warnings, escaped (never a 500)', async () => {
    // Gemini requests name every field they drop; the name is the client's and may hold anything JSON allows.
    for (const stream of [false, true]) {
      const path = stream ? '/v1beta/models/gpt-4o:streamGenerateContent?alt=sse' : '/v1beta/models/gpt-4o:generateContent';
      const response = await post(path, JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }], 'evil\r\nx-injected: 1': 1, generationConfig: { 'näme✓': 2 } }));
      expect(response.status).toBe(200);
      expect(response.headers.get('x-injected')).toBeNull();
      expect(response.headers.get('x-meshgate-warnings')).toBe('evil\\u000d\\u000ax-injected: 1, generationConfig.n\\u00e4me\\u2713');
      await response.text();
    }
  });

  it('400 for a body nested too deeply to process, in each client format (never a 500 internal_error)', async () => {
    // Ten thousand levels (20 KB): deep enough that the recursive steps of a request (sanitizing, estimating,
    // serialising for the provider) ran out of stack and answered 500 internal_error, "a bug in the gateway".
    const roomy = await startTestGateway([{ id: 'openai', type: 'openai', base_url: mock.openaiBaseUrl, api_key: PROVIDER_KEY, models: ['gpt-4o'] }]);
    try {
      const send = (path: string, body: string, headers: Record<string, string> = {}) =>
        fetch(`${roomy.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const deep = '['.repeat(10_000) + ']'.repeat(10_000);
      const cases: Array<[string, string, Record<string, string>, (body: any) => unknown]> = [ // eslint-disable-line @typescript-eslint/no-explicit-any
        ['/v1/chat/completions', `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":${deep}}`, {}, (b) => b.error.code],
        ['/v1/messages', `{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":${deep}}`, { 'anthropic-version': '2023-06-01' }, (b) => b.error.type],
        ['/v1beta/models/gpt-4o:generateContent', `{"contents":[{"parts":[{"text":"hi"}]}],"x":${deep}}`, {}, (b) => b.error.status],
      ];
      for (const [path, body, headers, kind] of cases) {
        const response = await send(path, body, headers);
        expect(response.status, path).toBe(400);
        expect(kind(await response.json()), path).toMatch(/^(invalid_request(_error)?|INVALID_ARGUMENT)$/);
      }
      // The same depth inside JSON text (an assistant turn's tool-call arguments, which the sanitizer parses and walks).
      const deepArguments = await send('/v1/chat/completions', JSON.stringify({
        model: 'gpt-4o',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: deep } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'done' },
        ],
      }));
      expect(deepArguments.status).toBe(400);
      expect(((await deepArguments.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
      // A deep but plausible body (a tool schema 40 objects down) is served.
      const nested = '{"type":"object","properties":{"a":'.repeat(40) + '{"type":"string"}' + '}}'.repeat(40);
      const ok = await send('/v1/chat/completions', `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${nested}}}]}`);
      expect(ok.status).toBe(200);
    } finally {
      await roomy.close();
    }
  });

  it('400 for an empty JSON body and for a `__proto__` key (the JSON parser that also checks depth keeps fastify\'s refusals)', async () => {
    const empty = await post('/v1/chat/completions', '');
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const poisoned = await post('/v1/chat/completions', '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"__proto__":{"admin":true}}');
    expect(poisoned.status).toBe(400);
    expect(((await poisoned.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const constructor = await post('/v1/chat/completions', '{"model":"gpt-4o","messages":[],"constructor":{"prototype":{"admin":true}}}');
    expect(constructor.status).toBe(400);
    await constructor.text();
  });

  it('413 for an oversized body', async () => {
    const res = await post('/v1/chat/completions', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(10_000) }] }));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('request_too_large');
  });

  it('405 with Allow for a route that exists for other methods', async () => {
    const post = await fetch(`${node.url}/v1/models`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    const get = await fetch(`${node.url}/v1/chat/completions`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('404 for an unknown route, in JSON', async () => {
    const res = await fetch(`${node.url}/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('route_not_found');
  });

  it('never shows a provider key: not in errors, listings or health', async () => {
    const failed = await post('/v1/messages', JSON.stringify({ model: 'claude-only', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }), { 'anthropic-version': '2023-06-01' });
    const failedText = await failed.text();
    expect(failed.status).toBe(502); // the provider refused the gateway's key: not the client's fault
    const listings = await Promise.all(['/v1/providers', '/v1/models', '/health'].map(async (p) => (await fetch(`${node.url}${p}`)).text()));
    for (const text of [failedText, ...listings]) {
      expect(text).not.toContain(PROVIDER_KEY);
      expect(text).not.toContain('sk-ant-wrong-key-987654321');
    }
    const providers = JSON.parse(listings[0]!) as { data: Array<{ id: string; type: string }> };
    expect(providers.data.map((p) => p.id)).toEqual(['openai', 'wrongkey']);
  });

  it('sends each provider only its own key', async () => {
    mock.reset();
    await post('/v1/chat/completions', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), { authorization: 'Bearer client-credential-xyz' });
    const sent = mock.requests.at(-1)!;
    expect(sent.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(JSON.stringify(sent)).not.toContain('client-credential-xyz');
  });
});
