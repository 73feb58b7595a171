import OpenAI, { AzureOpenAI } from 'openai';
import { zodTextFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { MockUpstream } from '../mock/index.js';
import { startMockedGateway, type TestGateway } from '../helpers/gateway.js';
import { parseSSE, type SSEMessage } from '../../src/formats/sse.js';

async function collectMessages(messages: AsyncIterable<SSEMessage>): Promise<SSEMessage[]> {
  const out: SSEMessage[] = [];
  for await (const message of messages) out.push(message);
  return out;
}

const weatherTool: OpenAI.Responses.FunctionTool = {
  type: 'function', name: 'get_weather', description: 'Weather for a city', strict: false,
  parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] },
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

/** Each provider type behind the test node and the upstream path a Responses request must reach there. */
const targets = [
  { provider: 'openai', model: 'gpt-4o', path: '/v1/responses', passthrough: true },
  { provider: 'anthropic', model: 'claude-sonnet-4-5', path: '/v1/messages', passthrough: false },
  { provider: 'gemini', model: 'gemini-2.5-flash', path: '/v1beta/models/gemini-2.5-flash:generateContent', passthrough: false },
  { provider: 'azure', model: 'gpt-4o-azure', path: '/openai/deployments/prod-4o/chat/completions', passthrough: false },
] as const;

describe.each(targets)('openai SDK responses → $provider', ({ provider, model, path, passthrough }) => {
  it('answers responses.create with a response object, usage and routing headers', async () => {
    mock.reset();
    const { data, response } = await client.responses
      .create({ model, instructions: 'Be brief.', input: 'hello there', metadata: { ticket: 't-1' } })
      .withResponse();
    expect(data.object).toBe('response');
    expect(data.id).toMatch(/^resp_/);
    expect(data.status).toBe('completed');
    expect(data.output_text).toContain('says: hello there');
    expect(data.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed' });
    expect(data.usage!.input_tokens).toBeGreaterThan(0);
    expect(data.usage!.output_tokens).toBeGreaterThan(0);
    expect(data.usage!.input_tokens_details.cached_tokens).toBe(0);
    expect(data.usage!.output_tokens_details.reasoning_tokens).toBe(0);
    expect(data.metadata).toEqual({ ticket: 't-1' });
    expect(response.headers.get('x-meshgate-provider')).toBe(provider);
    const upstream = mock.requests.at(-1)!;
    expect(upstream.path).toBe(path);
    if (passthrough) expect(upstream.body).toMatchObject({ model, instructions: 'Be brief.', input: 'hello there' });
  });

  it('streams the full event sequence that responses.stream accumulates', async () => {
    mock.reset();
    const stream = client.responses.stream({ model, input: 'stream me please' });
    const types: string[] = [];
    const sequence: number[] = [];
    let deltas = '';
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') deltas += event.delta;
    }
    const final = await stream.finalResponse();
    expect(final.output_text).toContain('says: stream me please');
    expect(deltas).toBe(final.output_text);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types).toContain('response.output_text.done');
    expect(types.slice(-3)).toEqual(['response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(sequence).toEqual(sequence.map((_, i) => sequence[0]! + i));
    expect(final.usage!.output_tokens).toBeGreaterThan(0);
  });

  it('calls a function tool and continues from its output with previous_response_id', async () => {
    mock.reset();
    const first = await client.responses.create({ model, input: 'Paris', tools: [weatherTool] });
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"input":"Paris"}' });
    if (call?.type !== 'function_call') throw new Error('no function call');
    const second = await client.responses.create({
      model, previous_response_id: first.id, tools: [weatherTool],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21 C' }],
    });
    expect(second.output_text).toBe('tool result was: sunny, 21 C');
    // A pass-through answer is OpenAI's own bytes (it never saw the id: the node rebuilt the input); the stored copy
    // and a translated answer name the response they continue.
    if (!passthrough) expect(second.previous_response_id).toBe(first.id);
    expect((await client.responses.retrieve(second.id)).previous_response_id).toBe(first.id);
  });

  it('streams a function call as function_call_arguments events', async () => {
    mock.reset();
    const stream = client.responses.stream({ model, input: 'Rome', tools: [weatherTool] });
    let argumentDeltas = '';
    stream.on('response.function_call_arguments.delta', (event) => void (argumentDeltas += event.delta));
    const final = await stream.finalResponse();
    const call = final.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ name: 'get_weather', arguments: '{"input":"Rome"}', status: 'completed' });
    expect(argumentDeltas).toBe('{"input":"Rome"}');
  });

  it('reports a response cut by max_output_tokens as incomplete', async () => {
    mock.reset();
    const cut = await client.responses.create({ model, input: 'a long answer please', max_output_tokens: 3 });
    expect(cut.status).toBe('incomplete');
    expect(cut.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  });
});

describe.each(targets)('responses.parse with a zod schema → $provider', ({ model }) => {
  it('returns output_parsed that matches the schema', async () => {
    const Weather = z.object({ city: z.string(), temperature: z.number(), sunny: z.boolean() });
    const res = await client.responses.parse({ model, input: 'Oslo', text: { format: zodTextFormat(Weather, 'weather') } });
    expect(res.output_parsed).toEqual({ city: 'Oslo', temperature: 42.5, sunny: true });
    const upstream = mock.requests.at(-1)!.body;
    expect(JSON.stringify(upstream)).toContain('temperature');
  });
});

describe('stored responses', () => {
  it('continues a conversation on another provider with previous_response_id (the node rebuilds it)', async () => {
    mock.reset();
    const first = await client.responses.create({ model: 'gpt-4o', input: 'my name is Ada' });
    const second = await client.responses.create({ model: 'claude-sonnet-4-5', previous_response_id: first.id, input: 'what is my name?' });
    expect(second.output_text).toContain('says: what is my name?');
    const anthropic = mock.requests.at(-1)!;
    expect(anthropic.path).toBe('/v1/messages');
    expect(anthropic.body.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(anthropic.body.messages[0])).toContain('my name is Ada');
    expect(JSON.stringify(anthropic.body.messages[1])).toContain(first.output_text);
    // And back to OpenAI: the whole chain of two turns goes upstream as input items, without our ids.
    const third = await client.responses.create({ model: 'gpt-4o', previous_response_id: second.id, input: 'thanks' });
    expect(third.status).toBe('completed');
    const openai = mock.requests.at(-1)!;
    expect(openai.body.previous_response_id).toBeUndefined();
    expect(openai.body.input.map((item: { role?: string; type?: string }) => item.role ?? item.type)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(openai.body.input.some((item: { id?: string }) => item.id !== undefined)).toBe(false);
  });

  it('keeps a streamed response, so a follow-up sent right after the stream ends finds it', async () => {
    const stream = client.responses.stream({ model: 'gemini-2.5-flash', input: 'remember the number 7' });
    const final = await stream.finalResponse();
    const next = await client.responses.create({ model: 'gemini-2.5-flash', previous_response_id: final.id, input: 'which number?' });
    expect(next.status).toBe('completed');
    const contents = mock.requests.at(-1)!.body.contents;
    expect(contents).toHaveLength(3);
    expect(JSON.stringify(contents[0])).toContain('remember the number 7');
  });

  it('retrieves, lists the input items of and deletes a stored response', async () => {
    const created = await client.responses.create({ model: 'claude-sonnet-4-5', input: [{ role: 'user', content: 'first' }, { role: 'user', content: [{ type: 'input_text', text: 'second' }] }] });
    const fetched = await client.responses.retrieve(created.id);
    expect(fetched.id).toBe(created.id);
    expect(fetched.output_text).toBe(created.output_text);
    const items = await client.responses.inputItems.list(created.id, { order: 'asc' });
    expect(items.data.map((item) => (item as { content: unknown }).content)).toEqual(['first', [{ type: 'input_text', text: 'second' }]]);
    expect(items.data.every((item) => typeof item.id === 'string')).toBe(true);
    const newestFirst = await client.responses.inputItems.list(created.id, { limit: 1 });
    expect(newestFirst.data).toHaveLength(1);
    expect(newestFirst.has_more).toBe(true);
    await client.responses.delete(created.id);
    await expect(client.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(client.responses.create({ model: 'gpt-4o', previous_response_id: created.id, input: 'again' })).rejects.toMatchObject({ status: 400, param: 'previous_response_id' });
  });

  it('keeps nothing with store: false', async () => {
    const res = await client.responses.create({ model: 'gpt-4o', input: 'forget me', store: false });
    await expect(client.responses.retrieve(res.id)).rejects.toMatchObject({ status: 404 });
  });
});

describe('Azure OpenAI paths', () => {
  it('serves the AzureOpenAI client (/openai/responses) and its v1 and deployment paths, stored responses included', async () => {
    mock.reset();
    const azure = new AzureOpenAI({ endpoint: node.url, apiKey: 'unused', apiVersion: '2025-04-01-preview', maxRetries: 0 });
    const created = await azure.responses.create({ model: 'claude-sonnet-4-5', input: 'from azure' });
    expect(created.output_text).toContain('says: from azure');
    expect((await azure.responses.retrieve(created.id)).id).toBe(created.id);
    const v1 = await fetch(`${node.url}/openai/v1/responses/${created.id}/input_items`);
    expect(((await v1.json()) as { data: unknown[] }).data).toHaveLength(1);
    const byDeployment = await fetch(`${node.url}/openai/deployments/gemini-2.5-flash/responses?api-version=2025-04-01-preview`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'deployment named' }),
    });
    expect(byDeployment.status).toBe(200);
    expect(((await byDeployment.json()) as { model: string }).model).toBe('gemini-2.5-flash');
    expect(mock.requests.at(-1)!.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
  });
});

describe('files', () => {
  const PDF = Buffer.from('%PDF-1.4 a tiny document').toString('base64');
  it.each([
    ['gpt-4o', (body: any) => body.input[0].content[1], { type: 'input_file', filename: 'memo.pdf', file_data: `data:application/pdf;base64,${PDF}` }], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['claude-sonnet-4-5', (body: any) => body.messages[0].content[1], { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'memo.pdf' }], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['gemini-2.5-flash', (body: any) => body.contents[0].parts[1], { inlineData: { mimeType: 'application/pdf', data: PDF } }], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['gpt-4o-azure', (body: any) => body.messages[0].content[1], { type: 'file', file: { filename: 'memo.pdf', file_data: `data:application/pdf;base64,${PDF}` } }], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])('sends an input_file PDF on to %s in its own form', async (model, partOf, expected) => {
    mock.reset();
    const res = await client.responses.create({
      model, input: [{ role: 'user', content: [{ type: 'input_text', text: 'summarise this' }, { type: 'input_file', filename: 'memo.pdf', file_data: `data:application/pdf;base64,${PDF}` }] }],
    });
    expect(res.status).toBe('completed');
    expect(partOf(mock.requests.at(-1)!.body)).toEqual(expected);
  });
});

describe('reasoning', () => {
  const SIGNATURE = 'EqQBCkYIARgCKkD-anthropic-signature';

  it('comes back as a reasoning item, streamed as summary events, and goes back to Anthropic with its signature', async () => {
    mock.reset();
    mock.enqueue({ kind: 'thinking', thinking: 'the user wants a greeting', signature: SIGNATURE });
    const stream = client.responses.stream({ model: 'claude-sonnet-4-5', input: 'greet me', reasoning: { effort: 'low', summary: 'auto' } });
    let summary = '';
    stream.on('response.reasoning_summary_text.delta', (event) => void (summary += event.delta));
    const first = await stream.finalResponse();
    expect(summary).toBe('the user wants a greeting');
    expect(first.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'the user wants a greeting' }], encrypted_content: `mg1.anthropic.${SIGNATURE}` });
    expect(first.output_text).toContain('says: greet me');

    await client.responses.create({ model: 'claude-sonnet-4-5', previous_response_id: first.id, input: 'again' });
    const assistant = mock.requests.at(-1)!.body.messages[1];
    expect(assistant.content[0]).toEqual({ type: 'thinking', thinking: 'the user wants a greeting', signature: SIGNATURE });
  });

  it('asked for without a summary, comes back as a reasoning item with no text but its signature, which goes back', async () => {
    mock.reset();
    mock.enqueue({ kind: 'thinking', thinking: 'private chain of thought', signature: SIGNATURE });
    const first = await client.responses.create({ model: 'claude-sonnet-4-5', input: 'decide quietly', reasoning: { effort: 'low' } });
    expect(first.output[0]).toEqual(expect.objectContaining({ type: 'reasoning', summary: [], encrypted_content: `mg1.anthropic.${SIGNATURE}` }));
    expect(JSON.stringify(first)).not.toContain('private chain of thought');
    await client.responses.create({ model: 'claude-sonnet-4-5', previous_response_id: first.id, input: 'and now?', reasoning: { effort: 'low' } });
    expect(mock.requests.at(-1)!.body.messages[1].content[0]).toEqual({ type: 'thinking', thinking: '', signature: SIGNATURE });
  });

  it('from OpenAI goes back to OpenAI with its encrypted content, and to another provider as its summary only', async () => {
    mock.reset();
    mock.enqueue({ kind: 'thinking', thinking: 'openai plan', signature: 'gAAAA-openai-state' });
    const first = await client.responses.create({ model: 'gpt-4o', input: 'plan it', include: ['reasoning.encrypted_content'] });
    expect(first.output[0]).toMatchObject({ type: 'reasoning', encrypted_content: 'gAAAA-openai-state' });
    await client.responses.create({ model: 'gpt-4o', previous_response_id: first.id, input: 'go on' });
    expect(mock.requests.at(-1)!.body.input[1]).toMatchObject({ type: 'reasoning', encrypted_content: 'gAAAA-openai-state' });
    await client.responses.create({ model: 'claude-sonnet-4-5', previous_response_id: first.id, input: 'go on' });
    const messages = mock.requests.at(-1)!.body.messages;
    expect(JSON.stringify(messages)).not.toContain('gAAAA-openai-state');
    expect(messages[1].content.map((b: { type: string }) => b.type)).toEqual(['text']);
  });

  it('is left out of a continuation on OpenAI, which would refuse another provider\'s signature', async () => {
    mock.reset();
    mock.enqueue({ kind: 'thinking', thinking: 'plan', signature: SIGNATURE });
    const first = await client.responses.create({ model: 'claude-sonnet-4-5', input: 'think first' });
    await client.responses.create({ model: 'gpt-4o', previous_response_id: first.id, input: 'now you' });
    const input = mock.requests.at(-1)!.body.input as Array<{ type?: string; role?: string }>;
    expect(input.map((item) => item.type === 'message' ? item.role : item.type)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(input)).not.toContain(SIGNATURE);
  });
});

describe('built-in tools', () => {
  it('passes web_search through to an OpenAI Responses provider', async () => {
    mock.reset();
    await client.responses.create({ model: 'gpt-4o', input: 'news', tools: [{ type: 'web_search' }] });
    expect(mock.requests.at(-1)!.body.tools).toEqual([{ type: 'web_search' }]);
  });

  it.each(['claude-sonnet-4-5', 'gemini-2.5-flash', 'gpt-4o-azure'])('refuses web_search for %s with a 400 naming the tool', async (model) => {
    mock.reset();
    await expect(client.responses.create({ model, input: 'news', tools: [{ type: 'web_search' }] })).rejects.toMatchObject({
      status: 400, param: 'tools[0].type', message: expect.stringContaining("'web_search'"),
    });
    expect(mock.requests).toHaveLength(0);
  });
});

describe('input token counts', () => {
  it('asks a provider that counts, estimates for one that cannot, and counts a continued conversation whole', async () => {
    mock.reset();
    const counted = await client.responses.inputTokens.count({ model: 'claude-sonnet-4-5', input: 'count these words please' });
    expect(counted).toMatchObject({ object: 'response.input_tokens', input_tokens: expect.any(Number) });
    expect(mock.requests.at(-1)!.path).toBe('/v1/messages/count_tokens');
    const { response } = await client.responses.inputTokens.count({ model: 'gpt-4o', input: 'estimate me' }).withResponse();
    expect(response.headers.get('x-meshgate-estimated')).toBe('true');
    const first = await client.responses.create({ model: 'gemini-2.5-flash', input: 'a fairly long opening message '.repeat(20) });
    const alone = await client.responses.inputTokens.count({ model: 'gemini-2.5-flash', input: 'next' });
    const continued = await client.responses.inputTokens.count({ model: 'gemini-2.5-flash', previous_response_id: first.id, input: 'next' });
    expect(continued.input_tokens).toBeGreaterThan(alone.input_tokens + 100);
  });
});

describe('translation warnings', () => {
  it('names what a translation dropped in x-meshgate-warnings, and nothing for a pass-through', async () => {
    const body = { input: 'hi', include: ['reasoning.encrypted_content'] as OpenAI.Responses.ResponseIncludable[], truncation: 'auto' as const };
    const { response } = await client.responses.create({ model: 'claude-sonnet-4-5', ...body }).withResponse();
    expect(response.headers.get('x-meshgate-warnings')).toBe('include, truncation');
    const passed = await client.responses.create({ model: 'gpt-4o', ...body }).withResponse();
    expect(passed.response.headers.get('x-meshgate-warnings')).toBeNull();
    expect(mock.requests.at(-1)!.body).toMatchObject({ include: ['reasoning.encrypted_content'], truncation: 'auto' });
  });
});

describe('errors', () => {
  it('answers a bad request in OpenAI shape', async () => {
    await expect(client.responses.create({ model: 'gpt-4o', input: 'x', temperature: 5 })).rejects.toMatchObject({ status: 400, param: 'temperature' });
  });

  it('raises an upstream failure after the first byte as an error in the SDK', async () => {
    mock.reset();
    mock.enqueue({ kind: 'fail_mid_stream', afterChunks: 4 });
    const stream = client.responses.stream({ model: 'claude-sonnet-4-5', input: 'one two three four five six seven' });
    await expect(stream.finalResponse()).rejects.toThrow();
  });

  it('numbers the error event of a pass-through stream cut after several events that arrived together as the next in sequence', async () => {
    mock.reset();
    mock.enqueue({ kind: 'fail_mid_stream', afterChunks: 4 });
    const res = await fetch(`${node.url}/v1/responses`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', input: 'one two three four five six seven', stream: true }),
    });
    const events = (await collectMessages(parseSSE(res.body!))).map((m) => JSON.parse(m.data) as { type: string; sequence_number: number });
    expect(events.map((e) => e.type).slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(events.at(-1)).toMatchObject({ type: 'error', sequence_number: 4 });
    expect(events.map((e) => e.sequence_number)).toEqual([0, 1, 2, 3, 4]);
  });

  it('records a Responses request with its usage', async () => {
    const before = node.outcomes.length;
    await client.responses.create({ model: 'gemini-2.5-flash', input: 'count me' });
    const [outcome] = (await node.waitForOutcomes(before + 1)).slice(before);
    expect(outcome).toMatchObject({ format: 'responses', operation: 'chat', provider: 'gemini', status: 200 });
    expect(outcome!.usage!.inputTokens).toBeGreaterThan(0);
  });
});
