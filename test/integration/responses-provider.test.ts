import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Models served only at /v1/responses (`endpoints = ["responses"]`, per model or per provider): every client format
 * reaches them by translation to the Responses API, streaming included.
 */
let mock: MockUpstream;
let node: TestGateway;
let openai: OpenAI;
let anthropic: Anthropic;

const weather = { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] } };

beforeAll(async () => {
  mock = await startMockUpstream();
  node = await startTestGateway([
    { id: 'openai', type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o', 'o3-pro'], model_endpoints: { 'o3-pro': ['responses'] } },
    { id: 'compat', type: 'openai_compatible', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['responses-only'], endpoints: ['responses'] },
  ]);
  openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: node.url, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

describe.each(['o3-pro', 'responses-only'])('a Responses-only model (%s)', (model) => {
  it('serves Chat Completions by translation to /v1/responses', async () => {
    mock.reset();
    const res = await openai.chat.completions.create({ model, max_tokens: 50, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }] });
    expect(res.choices[0]!.message.content).toContain('says: hello there');
    expect(res.usage!.prompt_tokens).toBeGreaterThan(0);
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe('/v1/responses');
    expect(upstream.body).toMatchObject({ model, instructions: 'Be brief.', max_output_tokens: 50, store: false, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello there' }] }] });
  });

  it('streams Chat Completions from a Responses event stream', async () => {
    mock.reset();
    const stream = await openai.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream me please' }] });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toContain('says: stream me please');
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    expect(mock.requests.at(-1)!.body.stream).toBe(true);
  });

  it('serves Chat Completions tool calls and tool results', async () => {
    mock.reset();
    const first = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Paris' }], tools: [{ type: 'function', function: weather }] });
    const call = first.choices[0]!.message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"input":"Paris"}' });
    const second = await openai.chat.completions.create({
      model, tools: [{ type: 'function', function: weather }],
      messages: [{ role: 'user', content: 'Paris' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny' }],
    });
    expect(second.choices[0]!.message.content).toBe('tool result was: sunny');
    const input = mock.requests.at(-1)!.body.input;
    expect(input.slice(1)).toEqual([
      { type: 'function_call', call_id: call.id, name: 'get_weather', arguments: '{"input":"Paris"}' },
      { type: 'function_call_output', call_id: call.id, output: 'sunny' },
    ]);
  });

  it('serves Anthropic Messages, streamed, with tool use', async () => {
    mock.reset();
    const stream = anthropic.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'Rome' }], tools: [{ name: weather.name, description: weather.description, input_schema: weather.parameters as Anthropic.Tool.InputSchema }] });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'get_weather', input: { input: 'Rome' } });
    expect(mock.requests.at(-1)!.path).toBe('/v1/responses');
  });

  it('serves Gemini generateContent', async () => {
    mock.reset();
    const genai = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: node.url, apiVersion: 'v1beta' } });
    const res = await genai.models.generateContent({ model, contents: 'hello gemini client' });
    expect(res.text).toContain('says: hello gemini client');
    expect(mock.requests.at(-1)!.path).toBe('/v1/responses');
  });
});

describe('reasoning from a Responses-only model', () => {
  it('reaches an Anthropic client as a thinking block, streamed and whole, with usage', async () => {
    mock.reset();
    mock.enqueue({ kind: 'thinking', thinking: 'weighing the options', signature: 'gAAAA-openai-state' });
    const stream = anthropic.messages.stream({ model: 'o3-pro', max_tokens: 200, messages: [{ role: 'user', content: 'decide' }] });
    let thinking = '';
    stream.on('thinking', (delta) => void (thinking += delta));
    const message = await stream.finalMessage();
    expect(thinking).toBe('weighing the options');
    expect(message.content[0]).toMatchObject({ type: 'thinking', thinking: 'weighing the options' });
    expect(message.content[1]).toMatchObject({ type: 'text', text: expect.stringContaining('says: decide') });

    mock.enqueue({ kind: 'thinking', thinking: 'once more', signature: 'gAAAA-openai-state' });
    const whole = await anthropic.messages.create({ model: 'o3-pro', max_tokens: 200, messages: [{ role: 'user', content: 'decide again' }] });
    expect(whole.content.map((b) => b.type)).toEqual(['thinking', 'text']);
  });
});

describe('an OpenAI provider serving both endpoints', () => {
  it('passes Chat Completions to /chat/completions and Responses to /responses', async () => {
    mock.reset();
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    await openai.responses.create({ model: 'gpt-4o', input: 'hi' });
    expect(mock.requests.map((r) => r.path)).toEqual(['/v1/chat/completions', '/v1/responses']);
  });

  it('translates a Responses client to /chat/completions for a compatible server without a Responses endpoint', async () => {
    const chatOnly = await startTestGateway([{ id: 'local', type: 'openai_compatible', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['llama'] }]);
    try {
      mock.reset();
      const client = new OpenAI({ baseURL: `${chatOnly.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const res = await client.responses.create({ model: 'llama', input: 'hi there' });
      expect(res.output_text).toContain('says: hi there');
      expect(mock.requests.at(-1)!.path).toBe('/v1/chat/completions');
    } finally {
      await chatOnly.close();
    }
  });
});
