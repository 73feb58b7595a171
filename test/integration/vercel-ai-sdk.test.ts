import { createOpenAI } from '@ai-sdk/openai';
import { generateObject, generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * The Vercel AI SDK's default OpenAI provider (`openai(model)`) speaks the Responses API: it must work against every
 * provider type behind the node, multi-step tool loops included (it sends earlier steps as `item_reference`s when
 * `store` is on, its default).
 */
let mock: MockUpstream;
let node: TestGateway;
let openai: ReturnType<typeof createOpenAI>;

beforeAll(async () => {
  mock = await startMockUpstream();
  const p = mockProviders(mock);
  node = await startTestGateway([p.openai, p.anthropic, p.gemini]);
  openai = createOpenAI({ baseURL: `${node.url}/v1`, apiKey: 'unused-on-a-public-node' });
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

const targets = [
  { provider: 'openai', model: 'gpt-4o', path: '/v1/responses' },
  { provider: 'anthropic', model: 'claude-sonnet-4-5', path: '/v1/messages' },
  { provider: 'gemini', model: 'gemini-2.5-flash', path: '/v1beta/models/gemini-2.5-flash:generateContent' },
] as const;

const weather = tool({
  description: 'Weather for a city',
  inputSchema: z.object({ input: z.string() }),
  execute: async ({ input }) => `sunny in ${input}`,
});

describe.each(targets)('Vercel AI SDK openai(model) → $provider', ({ provider, model, path }) => {
  it('generateText answers with usage', async () => {
    mock.reset();
    const result = await generateText({ model: openai(model), system: 'Be brief.', prompt: 'hello there' });
    expect(result.text).toContain('says: hello there');
    expect(result.finishReason).toBe('stop');
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(result.response.headers?.['x-meshgate-provider']).toBe(provider);
    expect(mock.requests.at(-1)!.path).toBe(path);
  });

  it('streamText runs a tool loop: call, execute, answer from the result', async () => {
    mock.reset();
    const result = streamText({ model: openai(model), prompt: 'Paris', tools: { get_weather: weather }, stopWhen: stepCountIs(3) });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    const steps = await result.steps;
    expect(steps[0]!.toolCalls).toMatchObject([{ toolName: 'get_weather', input: { input: 'Paris' } }]);
    expect(steps[0]!.finishReason).toBe('tool-calls');
    expect(text).toBe('tool result was: sunny in Paris');
    expect((await result.totalUsage).outputTokens).toBeGreaterThan(0);
    expect(mock.requests).toHaveLength(2);
  });

  it('continues from an earlier result\'s messages, which it sends back as item_reference to the stored items', async () => {
    mock.reset();
    const first = await generateText({ model: openai(model), prompt: 'my name is Ada' });
    const second = await generateText({ model: openai(model), messages: [{ role: 'user', content: 'my name is Ada' }, ...first.response.messages, { role: 'user', content: 'and mine?' }] });
    expect(second.text).toContain('says: and mine?');
    // The upstream got the first answer's text back, whatever its format: the node resolved the reference.
    expect(JSON.stringify(mock.requests.at(-1)!.body)).toContain(first.text);
  });

  it('streamText reports an upstream failure after the first byte as an error part', async () => {
    mock.reset();
    mock.enqueue({ kind: 'fail_mid_stream', afterChunks: 6 });
    const result = streamText({ model: openai(model), prompt: 'one two three four five six seven eight' });
    const errors: unknown[] = [];
    let text = '';
    for await (const part of result.fullStream) {
      if (part.type === 'error') errors.push(part.error);
      if (part.type === 'text-delta') text += part.text;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(errors).toHaveLength(1);
    expect(String((errors[0] as { message?: string }).message ?? errors[0])).toMatch(/stream|upstream|connection|ended/i);
  });

  it('generateObject returns an object that matches the schema', async () => {
    mock.reset();
    const { object } = await generateObject({
      model: openai(model),
      schema: z.object({ city: z.string(), days: z.array(z.object({ high: z.number(), rain: z.boolean() })) }),
      prompt: 'Oslo',
    });
    expect(object).toEqual({ city: 'Oslo', days: [{ high: 42.5, rain: true }] });
  });
});
