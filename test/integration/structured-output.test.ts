import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { Output, generateObject, generateText, streamObject } from 'ai';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JSON_OUTPUT_TOOL } from '../../src/formats/anthropic/structured-output.js';
import { mockAndNode, mockProviders } from '../helpers/gateway.js';

/** A Claude model without structured outputs (not in Anthropic's list): served through the answer tool. */
const OLD_CLAUDE = 'claude-3-5-haiku-20241022';

const ctx = mockAndNode((mock) => {
  const p = mockProviders(mock);
  return [p.openai, { ...p.anthropic, models: ['claude-sonnet-4-5', OLD_CLAUDE] }, p.gemini];
});

const schema = {
  type: 'object',
  properties: { city: { type: 'string' }, temperature: { type: 'number' }, sunny: { type: 'boolean' } },
  required: ['city', 'temperature', 'sunny'],
  additionalProperties: false,
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** How each client format asks for JSON matching `schema`, and where its answer text is. */
const clients = {
  openai: {
    request: (model: string, stream: boolean) => ({
      path: '/v1/chat/completions',
      body: { model, stream, messages: [{ role: 'user', content: 'Oslo weather' }], response_format: { type: 'json_schema', json_schema: { name: 'weather', schema, strict: true } } },
    }),
    text: (body: Json) => body.choices[0].message.content as string,
    streamText: (events: Json[]) => events.map((e) => e.choices?.[0]?.delta?.content ?? '').join(''),
  },
  anthropic: {
    request: (model: string, stream: boolean) => ({
      path: '/v1/messages',
      body: { model, stream, max_tokens: 200, messages: [{ role: 'user', content: 'Oslo weather' }], output_config: { format: { type: 'json_schema', schema } } },
    }),
    text: (body: Json) => (body.content as Json[]).filter((b) => b.type === 'text').map((b) => b.text).join(''),
    streamText: (events: Json[]) => events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'text_delta').map((e) => e.delta.text).join(''),
  },
  gemini: {
    request: (model: string, stream: boolean) => ({
      path: `/v1beta/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
      body: { contents: [{ role: 'user', parts: [{ text: 'Oslo weather' }] }], generationConfig: { responseMimeType: 'application/json', responseJsonSchema: schema } },
    }),
    text: (body: Json) => (body.candidates[0].content.parts as Json[]).map((p) => p.text ?? '').join(''),
    streamText: (events: Json[]) => events.flatMap((e) => (e.candidates?.[0]?.content?.parts ?? []) as Json[]).map((p) => p.text ?? '').join(''),
  },
} as const;

/** What each provider must have been sent, so the schema demonstrably reached it in its own terms. */
const providers = [
  { name: 'OpenAI', model: 'gpt-4o', sent: (body: Json) => expect(body.response_format).toMatchObject({ type: 'json_schema', json_schema: { schema: expect.objectContaining({ properties: schema.properties }) } }) },
  { name: 'Anthropic (output_config.format)', model: 'claude-sonnet-4-5', sent: (body: Json) => expect(body.output_config).toEqual({ format: { type: 'json_schema', schema } }) },
  { name: 'Anthropic (answer tool)', model: OLD_CLAUDE, sent: (body: Json) => expect(body.tool_choice).toEqual({ type: 'tool', name: JSON_OUTPUT_TOOL }) },
  { name: 'Gemini', model: 'gemini-2.5-flash', sent: (body: Json) => expect(body.generationConfig).toMatchObject({ responseMimeType: 'application/json', responseJsonSchema: schema }) },
];

const cases = (Object.keys(clients) as Array<keyof typeof clients>).flatMap((client) =>
  providers.flatMap((provider) => [false, true].map((stream) => ({ client, provider, stream, label: `${client} client → ${provider.name}${stream ? ', streamed' : ''}` }))));

async function sseEvents(response: Response): Promise<Json[]> {
  const text = await response.text();
  return text.split('\n').filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]').map((line) => JSON.parse(line.slice(6)) as Json);
}

describe('structured output from every client format to every provider format', () => {
  it.each(cases)('$label', async ({ client, provider, stream }) => {
    ctx.mock.reset();
    const { path, body } = clients[client].request(provider.model, stream);
    const response = await fetch(`${ctx.node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-meshgate-warnings')).toBeNull();
    const text = stream ? clients[client].streamText(await sseEvents(response)) : clients[client].text((await response.json()) as Json);
    expect(JSON.parse(text)).toEqual({ city: 'Oslo weather', temperature: 42.5, sunny: true });
    const sent = ctx.mock.requests.at(-1)!.body;
    // Same format in and out is passed through untouched (an Anthropic client's output_config included).
    if (client === 'anthropic' && provider.name.startsWith('Anthropic')) expect(sent.output_config).toEqual((body as Json).output_config);
    else provider.sent(sent);
  });
});

const weather = z.object({ city: z.string(), temperature: z.number(), conditions: z.enum(['sunny', 'cloudy']) });

describe('structured output with real clients', () => {
  const vercelOpenAI = () => createOpenAI({ baseURL: `${ctx.node.url}/v1`, apiKey: 'unused' });
  const vercelAnthropic = () => createAnthropic({ baseURL: `${ctx.node.url}/v1`, apiKey: 'unused' });

  it.each(['claude-sonnet-4-5', OLD_CLAUDE, 'gemini-2.5-flash'])('Vercel AI SDK generateObject, @ai-sdk/openai .chat(), on %s', async (model) => {
    const { object } = await generateObject({ model: vercelOpenAI().chat(model), schema: weather, prompt: 'Weather in Bergen' });
    expect(object).toEqual({ city: 'Weather in Bergen', temperature: 42.5, conditions: 'sunny' });
  });

  it('Vercel AI SDK streamObject, @ai-sdk/openai .chat(), on a Claude model without structured outputs', async () => {
    const result = streamObject({ model: vercelOpenAI().chat(OLD_CLAUDE), schema: weather, prompt: 'Weather in Tromsø' });
    const partials: unknown[] = [];
    for await (const partial of result.partialObjectStream) partials.push(partial);
    expect(partials.length).toBeGreaterThan(1);
    expect(await result.object).toEqual({ city: 'Weather in Tromsø', temperature: 42.5, conditions: 'sunny' });
  });

  it.each(['claude-sonnet-4-5', OLD_CLAUDE, 'gpt-4o', 'gemini-2.5-flash'])('Vercel AI SDK generateObject, @ai-sdk/anthropic, on %s', async (model) => {
    const { object } = await generateObject({ model: vercelAnthropic()(model), schema: weather, prompt: 'Weather in Bodø' });
    expect(object).toEqual({ city: 'Weather in Bodø', temperature: 42.5, conditions: 'sunny' });
  });

  it.each([
    ['@ai-sdk/openai .chat()', () => vercelOpenAI().chat(OLD_CLAUDE)],
    ['@ai-sdk/anthropic', () => vercelAnthropic()('gemini-2.5-flash')],
  ])('Vercel AI SDK generateText with Output.object (the successor of generateObject), %s', async (_name, model) => {
    const { output } = await generateText({ model: model(), output: Output.object({ schema: weather }), prompt: 'Weather in Alta' });
    expect(output).toEqual({ city: 'Weather in Alta', temperature: 42.5, conditions: 'sunny' });
  });

  it.each(['claude-sonnet-4-5', OLD_CLAUDE, 'gemini-2.5-flash'])('openai SDK chat.completions.parse with a zod schema on %s', async (model) => {
    const openai = new OpenAI({ baseURL: `${ctx.node.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const completion = await openai.chat.completions.parse({ model, messages: [{ role: 'user', content: 'Weather in Oslo' }], response_format: zodResponseFormat(weather, 'weather') });
    expect(completion.choices[0]!.message.parsed).toEqual({ city: 'Weather in Oslo', temperature: 42.5, conditions: 'sunny' });
  });

  it('Anthropic SDK with an output format, served by an OpenAI provider', async () => {
    ctx.mock.reset();
    const anthropic = new Anthropic({ baseURL: ctx.node.url, apiKey: 'unused', maxRetries: 0 });
    const message = await anthropic.messages.create({
      model: 'gpt-4o', max_tokens: 200, messages: [{ role: 'user', content: 'Weather in Oslo' }],
      output_config: { format: { type: 'json_schema', schema } },
    });
    const text = message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(JSON.parse(text)).toEqual({ city: 'Weather in Oslo', temperature: 42.5, sunny: true });
    expect(ctx.mock.requests.at(-1)!.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'response', schema } });
  });
});
