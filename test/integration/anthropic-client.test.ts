import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] },
};

let mock: MockUpstream;
let node: TestGateway;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMockUpstream();
  const p = mockProviders(mock);
  node = await startTestGateway([p.openai, p.anthropic, p.gemini]);
  client = new Anthropic({ baseURL: node.url, apiKey: 'unused-on-a-public-node', maxRetries: 0 });
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

const targets = [
  { provider: 'anthropic', model: 'claude-sonnet-4-5', path: '/v1/messages' },
  { provider: 'openai', model: 'gpt-4o', path: '/v1/chat/completions' },
  { provider: 'gemini', model: 'gemini-2.5-flash', path: '/v1beta/models/gemini-2.5-flash:generateContent' },
] as const;

describe.each(targets)('Anthropic SDK → $provider', ({ provider, model, path }) => {
  it('answers a message with usage and routing headers', async () => {
    mock.reset();
    const { data, response } = await client.messages
      .create({ model, max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse();
    expect(data.type).toBe('message');
    expect(data.role).toBe('assistant');
    const text = data.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(text).toContain('says: hello there');
    expect(data.stop_reason).toBe('end_turn');
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-meshgate-provider')).toBe(provider);
    expect(mock.requests.at(-1)!.path).toBe(path);
    expect(JSON.stringify(mock.requests.at(-1)!.body)).toContain('Be brief.');
  });

  it('streams events that the SDK accumulates', async () => {
    const stream = client.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'stream me please' }] });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toContain('says: stream me please');
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(final.usage.input_tokens).toBeGreaterThan(0);
  });

  it('uses tools and takes tool results, streamed', async () => {
    const first = await client.messages.stream({ model, max_tokens: 200, tools: [weatherTool], messages: [{ role: 'user', content: 'weather in Oslo' }] }).finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(use.name).toBe('get_weather');
    expect(use.input).toEqual({ input: 'weather in Oslo' });
    const second = await client.messages.create({
      model, max_tokens: 200, tools: [weatherTool],
      messages: [
        { role: 'user', content: 'weather in Oslo' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'snow, -3C' }] },
      ],
    });
    const text = second.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(text).toContain('tool result was: snow, -3C');
  });

  it('sends images', async () => {
    mock.reset();
    const data = await client.messages.create({
      model, max_tokens: 100,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PIXEL } }, { type: 'text', text: 'describe' }] }],
    });
    const text = data.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(text).toContain('saw 1 image(s)');
    expect(JSON.stringify(mock.requests.at(-1)!.body)).toContain(PIXEL);
  });

  it('reports cache reads in Anthropic terms', async () => {
    const data = await client.messages.create({ model, max_tokens: 100, messages: [{ role: 'user', content: '[cache] a long shared prefix that the provider cached' }] });
    expect(data.usage.cache_read_input_tokens).toBeGreaterThan(0);
  });
});

describe('Anthropic SDK, format-specific behaviour', () => {
  it('counts tokens with Anthropic, and estimates (flagged) where the provider cannot count', async () => {
    const counted = await client.messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count these words please' }] });
    expect(counted.input_tokens).toBeGreaterThan(0);
    const { data, response } = await client.messages.countTokens({ model: 'gpt-4o', messages: [{ role: 'user', content: 'count these words please' }] }).withResponse();
    expect(data.input_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-meshgate-estimated')).toBe('true');
  });

  it('passes Anthropic requests through with the Anthropic headers', async () => {
    mock.reset();
    await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], metadata: { user_id: 'u-1' } });
    const sent = mock.requests.at(-1)!;
    expect(sent.headers['x-api-key']).toBe('test-key');
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.body.metadata).toEqual({ user_id: 'u-1' });
  });

  it('passes anthropic-beta on to Anthropic providers, and names it in the warnings where it cannot be honoured', async () => {
    mock.reset();
    const beta = { headers: { 'anthropic-beta': 'prompt-caching-2024-07-31,output-128k-2025-02-19' } };
    const direct = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, beta).withResponse();
    expect(mock.requests.at(-1)!.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31,output-128k-2025-02-19');
    expect(direct.response.headers.get('x-meshgate-warnings')).toBeNull();
    const translated = await client.messages.create({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, beta).withResponse();
    expect(mock.requests.at(-1)!.headers['anthropic-beta']).toBeUndefined();
    expect(translated.response.headers.get('x-meshgate-warnings')).toBe('anthropic-beta (prompt-caching-2024-07-31, output-128k-2025-02-19)');
  });

  it('does not name the structured-outputs beta where its output_format is translated', async () => {
    const { response } = await client.messages.create(
      { model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], output_format: { type: 'json_schema', schema: { type: 'object', properties: { a: { type: 'string' } } } } } as Anthropic.MessageCreateParamsNonStreaming,
      { headers: { 'anthropic-beta': 'structured-outputs-2025-11-13' } },
    ).withResponse();
    expect(mock.requests.at(-1)!.body.response_format).toMatchObject({ type: 'json_schema' });
    expect(response.headers.get('x-meshgate-warnings')).toBeNull();
  });

  it('lists models in the Anthropic shape', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual(expect.arrayContaining(['claude-sonnet-4-5', 'gpt-4o']));
  });
});

describe('Gemini REST clients', () => {
  it('generates, streams and embeds through any provider', async () => {
    const generate = await fetch(`${node.url}/v1beta/models/claude-sonnet-4-5:generateContent`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hello gemini client' }] }] }),
    });
    expect(generate.status).toBe(200);
    const body = (await generate.json()) as { candidates: Array<{ content: { parts: Array<{ text: string }> } }>; usageMetadata: { promptTokenCount: number } };
    expect(body.candidates[0]!.content.parts.map((p) => p.text).join('')).toContain('says: hello gemini client');
    expect(body.usageMetadata.promptTokenCount).toBeGreaterThan(0);

    const stream = await fetch(`${node.url}/v1beta/models/gpt-4o:streamGenerateContent?alt=sse`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'stream gemini' }] }] }),
    });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const text = await stream.text();
    const joined = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)))
      .map((c: { candidates?: Array<{ content?: { parts?: Array<{ text?: string }> } }> }) => c.candidates?.[0]?.content?.parts?.map((p) => p.text ?? '').join('') ?? '').join('');
    expect(joined).toContain('says: stream gemini');

    const embed = await fetch(`${node.url}/v1beta/models/text-embedding-3-small:embedContent`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: { parts: [{ text: 'embed me' }] } }),
    });
    const embedded = (await embed.json()) as { embedding: { values: number[] } };
    expect(embedded.embedding.values.length).toBeGreaterThan(0);
  });
});

describe('Anthropic stream from an OpenAI-format provider', () => {
  it('carries an input-token estimate in message_start and the exact count in message_delta', async () => {
    const body = { model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user' as const, content: 'count my words for me please' }] };
    const exact = (await client.messages.create(body)).usage.input_tokens;
    const events: Anthropic.RawMessageStreamEvent[] = [];
    for await (const event of await client.messages.create({ ...body, stream: true })) events.push(event);
    const start = events.find((e): e is Anthropic.RawMessageStartEvent => e.type === 'message_start')!;
    const delta = events.find((e): e is Anthropic.RawMessageDeltaEvent => e.type === 'message_delta')!;
    expect(start.message.usage.input_tokens).toBeGreaterThan(0);
    expect(delta.usage.input_tokens).toBe(exact);
  });
});
