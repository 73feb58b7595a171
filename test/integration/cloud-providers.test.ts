import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI, type FunctionDeclaration } from '@google/genai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from '../mock/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { bedrockProvider, CLOUD_MODELS, VERTEX_REGION, vertexProvider, writeServiceAccountKey } from '../helpers/cloud-providers.js';

/**
 * Every client format (the official OpenAI, Anthropic and Google SDKs) against the cloud hosts: AWS Bedrock
 * (Converse / ConverseStream, SigV4) and Vertex AI (Gemini and Claude models, service-account OAuth), streamed and
 * not, tools included — all through the mock, which verifies the signature and the tokens as the clouds do.
 */

const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

let mock: MockUpstream;
let node: TestGateway;
let dir: string;
let openai: OpenAI;
let anthropic: Anthropic;
let gemini: GoogleGenAI;

beforeAll(async () => {
  mock = await startMockUpstream();
  dir = await mkdtemp(join(tmpdir(), 'meshgate-cloud-'));
  const keyFile = await writeServiceAccountKey(mock, dir);
  node = await startTestGateway([bedrockProvider(mock), vertexProvider(mock, keyFile)]);
  openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'unused-on-a-public-node', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: node.url, apiKey: 'unused-on-a-public-node', maxRetries: 0 });
  gemini = new GoogleGenAI({ apiKey: 'unused-on-a-public-node', httpOptions: { baseUrl: node.url, apiVersion: 'v1beta' } });
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const vertexPath = (publisher: string, model: string, method: string) =>
  `/v1/projects/mock-project-42/locations/${VERTEX_REGION}/publishers/${publisher}/models/${model}:${method}`;

/** Where each target's requests land on the mock, and what the mock's "model" calls itself there. */
const targets = [
  {
    name: 'bedrock', model: CLOUD_MODELS.bedrock.client, upstream: CLOUD_MODELS.bedrock.upstream, says: 'mock bedrock',
    // The model id's `:` is percent-encoded in the path, as the AWS SDK sends it.
    path: (stream: boolean) => `/model/us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/${stream ? 'converse-stream' : 'converse'}`,
  },
  {
    name: 'vertex (gemini)', model: CLOUD_MODELS.vertexGemini.client, upstream: CLOUD_MODELS.vertexGemini.upstream, says: 'mock vertex-gemini',
    path: (stream: boolean) => vertexPath('google', 'gemini-2.5-pro', stream ? 'streamGenerateContent' : 'generateContent'),
  },
  {
    name: 'vertex (claude)', model: CLOUD_MODELS.vertexClaude.client, upstream: CLOUD_MODELS.vertexClaude.upstream, says: 'mock vertex-anthropic',
    path: (stream: boolean) => vertexPath('anthropic', 'claude-sonnet-4-5@20250929', stream ? 'streamRawPredict' : 'rawPredict'),
  },
] as const;

const lastChat = (): RecordedRequest => mock.requests.filter((r) => r.path !== '/oauth2/token').at(-1)!;

const weatherTool = { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] } };

describe.each(targets)('OpenAI SDK → $name', ({ model, upstream, says, path }) => {
  it('answers a chat completion with usage', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model, max_tokens: 100, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toContain(`${says}`);
    expect(data.choices[0]!.message.content).toContain('says: hello there');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    // Bedrock's response names no model: the gateway answers with the upstream model it asked, as for the others.
    expect(data.model).toBe(upstream);
    expect(response.headers.get('x-meshgate-provider')).toBe(model.includes('bedrock') ? 'bedrock' : 'vertex');
    expect(lastChat().path).toBe(path(false));
    expect(JSON.stringify(lastChat().body)).toContain('Be brief.');
  });

  it('streams deltas and the usage chunk', async () => {
    const stream = await openai.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream me please' }] });
    const deltas: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) deltas.push(chunk.choices[0].delta.content);
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toContain('says: stream me please');
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(lastChat().path).toBe(path(true));
  });

  it('calls a tool, then answers with the tool result (streamed)', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: weatherTool }];
    const first = await openai.chat.completions.create({ model, tools, messages: [{ role: 'user', content: 'weather in Paris' }] });
    const call = first.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ input: 'weather in Paris' });

    const stream = await openai.chat.completions.create({
      model, tools, stream: true,
      messages: [{ role: 'user', content: 'weather in Paris' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny, 21 C' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('tool result was: sunny, 21 C');
  });

  it('streams a tool call in pieces', async () => {
    const stream = await openai.chat.completions.create({ model, stream: true, tools: [{ type: 'function', function: weatherTool }], messages: [{ role: 'user', content: 'weather in Oslo' }] });
    let name = '';
    let args = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.tool_calls?.[0];
      name += delta?.function?.name ?? '';
      args += delta?.function?.arguments ?? '';
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ input: 'weather in Oslo' });
  });
});

describe.each(targets)('Anthropic SDK → $name', ({ model, path }) => {
  it('answers a message', async () => {
    const message = await anthropic.messages.create({ model, max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'hello there' }] });
    expect(message.content.map((b) => (b.type === 'text' ? b.text : '')).join('')).toContain('says: hello there');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(lastChat().path).toBe(path(false));
  });

  it('streams events that the SDK accumulates', async () => {
    const stream = anthropic.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'stream me please' }] });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas.join('')).toContain('says: stream me please');
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(lastChat().path).toBe(path(true));
  });

  it('uses a tool, streamed', async () => {
    const stream = anthropic.messages.stream({
      model, max_tokens: 100, messages: [{ role: 'user', content: 'weather in Rome' }],
      tools: [{ name: weatherTool.name, description: weatherTool.description, input_schema: weatherTool.parameters as Anthropic.Tool.InputSchema }],
    });
    const final = await stream.finalMessage();
    const use = final.content.find((b) => b.type === 'tool_use');
    expect(final.stop_reason).toBe('tool_use');
    expect(use).toMatchObject({ name: 'get_weather', input: { input: 'weather in Rome' } });
  });
});

describe.each(targets)('Google GenAI SDK → $name', ({ model, path }) => {
  it('generates content', async () => {
    const response = await gemini.models.generateContent({ model, contents: 'hello there', config: { systemInstruction: 'Be brief.' } });
    expect(response.text).toContain('says: hello there');
    expect(response.usageMetadata?.candidatesTokenCount).toBeGreaterThan(0);
    expect(lastChat().path).toBe(path(false));
  });

  it('streams content', async () => {
    let text = '';
    let chunks = 0;
    for await (const chunk of await gemini.models.generateContentStream({ model, contents: 'stream me please' })) {
      text += chunk.text ?? '';
      chunks += 1;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toContain('says: stream me please');
    expect(lastChat().path).toBe(path(true));
  });

  it('calls a function', async () => {
    const declaration: FunctionDeclaration = { name: weatherTool.name, description: weatherTool.description, parametersJsonSchema: weatherTool.parameters };
    const response = await gemini.models.generateContent({ model, contents: 'weather in Lima', config: { tools: [{ functionDeclarations: [declaration] }] } });
    expect(response.functionCalls?.[0]).toMatchObject({ name: 'get_weather', args: { input: 'weather in Lima' } });
  });
});
