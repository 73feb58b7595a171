import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockUpstream } from '../mock/index.js';
import { startMockedGateway, type TestGateway } from '../helpers/gateway.js';

// One red pixel, PNG.
const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

const weatherTool: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] } },
};

let mock: MockUpstream;
let node: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  ({ mock, node } = await startMockedGateway());
  client = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'unused-on-a-public-node', maxRetries: 0 });
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

/** The model each provider serves in the test config, and the upstream path the mock must have seen. */
const targets = [
  { provider: 'openai', model: 'gpt-4o', path: '/v1/chat/completions' },
  { provider: 'anthropic', model: 'claude-sonnet-4-5', path: '/v1/messages' },
  { provider: 'gemini', model: 'gemini-2.5-flash', path: '/v1beta/models/gemini-2.5-flash:generateContent' },
  { provider: 'azure', model: 'gpt-4o-azure', path: '/openai/deployments/prod-4o/chat/completions' },
] as const;

describe.each(targets)('OpenAI SDK → $provider', ({ provider, model, path }) => {
  it('answers a chat completion with usage and routing headers', async () => {
    mock.reset();
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message.content).toContain('says: hello there');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-meshgate-provider')).toBe(provider);
    expect(response.headers.get('x-meshgate-attempts')).toBe('1');
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(mock.requests.at(-1)!.path).toBe(path);
  });

  it('streams deltas and reports usage when asked', async () => {
    mock.reset();
    const stream = await client.chat.completions.create({
      model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream me please' }],
    });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish ??= chunk.choices[0]?.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toContain('says: stream me please');
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe('stop');
    expect(usage!.prompt_tokens).toBeGreaterThan(0);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('does not send a usage chunk the client did not ask for, but still records usage', async () => {
    const before = node.outcomes.length;
    const stream = await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'no usage please' }] });
    for await (const chunk of stream) expect(chunk.usage ?? undefined).toBeUndefined();
    const outcomes = await node.waitForOutcomes(before + 1);
    expect(outcomes.at(-1)!.usage!.outputTokens).toBeGreaterThan(0);
    expect(outcomes.at(-1)!.usageEstimated).toBeFalsy();
  });

  it('calls tools and takes tool results, without streaming', async () => {
    const first = await client.chat.completions.create({ model, tools: [weatherTool], messages: [{ role: 'user', content: 'weather in Paris' }] });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.type).toBe('function');
    if (call.type !== 'function') return;
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ input: 'weather in Paris' });
    const second = await client.chat.completions.create({
      model, tools: [weatherTool],
      messages: [
        { role: 'user', content: 'weather in Paris' },
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: call.id, content: 'sunny, 21C' },
      ],
    });
    expect(second.choices[0]!.message.content).toContain('tool result was: sunny, 21C');
  });

  it('streams tool call arguments that the SDK reassembles', async () => {
    const runner = client.chat.completions.stream({ model, tools: [weatherTool], messages: [{ role: 'user', content: 'weather in Rome' }] });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ input: 'weather in Rome' });
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('sends base64 and URL images', async () => {
    mock.reset();
    const data = await client.chat.completions.create({
      model,
      messages: [{
        role: 'user',
        content: [
          { type: 'text', text: 'what is this' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PIXEL}` } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
        ],
      }],
    });
    expect(data.choices[0]!.message.content).toContain('saw 2 image(s)');
    const sent = JSON.stringify(mock.requests.at(-1)!.body);
    expect(sent).toContain(PIXEL);
    expect(sent).toContain('https://example.com/cat.png');
  });

  it('reports cached prompt tokens', async () => {
    const data = await client.chat.completions.create({ model, messages: [{ role: 'user', content: '[cache] a long shared prefix that the provider cached' }] });
    expect(data.usage!.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
    expect(data.usage!.prompt_tokens).toBeGreaterThanOrEqual(data.usage!.prompt_tokens_details!.cached_tokens!);
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const data = await client.chat.completions.create({ model, max_tokens: 2, messages: [{ role: 'user', content: 'one two three four five six' }] });
    expect(data.choices[0]!.finish_reason).toBe('length');
  });
});

describe('OpenAI SDK, format-specific behaviour', () => {
  it('passes an OpenAI request through to an OpenAI provider untouched apart from the model', async () => {
    mock.reset();
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], logit_bias: { '50256': -100 }, seed: 7 });
    const sent = mock.requests.at(-1)!;
    expect(sent.body.logit_bias).toEqual({ '50256': -100 });
    expect(sent.body.seed).toBe(7);
    expect(sent.headers.authorization).toBe('Bearer test-key');
  });

  it('passes input only OpenAI understands to an OpenAI provider, and refuses it (400) where it would need translating', async () => {
    const content = [{ type: 'text' as const, text: 'listen' }, { type: 'input_audio' as const, input_audio: { data: 'UklGRg==', format: 'wav' as const } }];
    const ok = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] });
    expect(ok.choices[0]!.message.content).toContain('says: listen');
    const error = await client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe('not_translatable');
    expect(error.message).toContain('input_audio');
  });

  it('says which parameters a translation dropped', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }], logit_bias: { '1': 1 } })
      .withResponse();
    expect(response.headers.get('x-meshgate-warnings')).toContain('logit_bias');
  });

  it('maps JSON mode to Gemini', async () => {
    mock.reset();
    await client.chat.completions.create({ model: 'gemini-2.5-flash', response_format: { type: 'json_object' }, messages: [{ role: 'user', content: 'json please' }] });
    expect(mock.requests.at(-1)!.body.generationConfig.responseMimeType).toBe('application/json');
  });

  it('creates embeddings through OpenAI and through Gemini', async () => {
    const viaOpenAI = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(viaOpenAI.data).toHaveLength(2);
    expect(viaOpenAI.data[0]!.embedding.length).toBeGreaterThan(0);
    mock.reset();
    const viaGemini = await client.embeddings.create({ model: 'text-embedding-004', input: ['one', 'two', 'three'] });
    expect(viaGemini.data).toHaveLength(3);
    expect(viaGemini.data[2]!.index).toBe(2);
    expect(mock.requests.at(-1)!.path).toBe('/v1beta/models/text-embedding-004:batchEmbedContents');
  });

  it('lists models with their providers', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    const ids = models.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-4o', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'gpt-4o-azure']));
    type Listed = { providers: string[]; capabilities: string[]; context_length?: number; pricing?: { input: number; output: number; unit: string } };
    const gpt = models.find((m) => m.id === 'gpt-4o') as unknown as Listed;
    expect(gpt.providers).toEqual(['openai']);
    expect(gpt.capabilities).toEqual(['chat']);
    expect(gpt.context_length).toBeGreaterThan(0);
    expect(gpt.pricing).toMatchObject({ input: 2.5, output: 10, unit: 'USD per 1M tokens' });
    expect((models.find((m) => m.id === 'claude-sonnet-4-5') as unknown as Listed).capabilities).toEqual(['chat', 'count_tokens']);
    expect((models.find((m) => m.id === 'text-embedding-3-small') as unknown as Listed).capabilities).toEqual(['embeddings']);
  });
});
