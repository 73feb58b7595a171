import { accumulateResponse } from 'openai/lib/responses/ResponseAccumulator';
import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../../../src/formats/canonical.js';
import { codecs, parseSSE, type SSEMessage } from '../../../../src/formats/index.js';

const codec = codecs.responses;

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

const sse = (events: Array<Record<string, unknown>>): SSEMessage[] =>
  events.map((data, i) => ({ event: data.type as string, data: JSON.stringify({ sequence_number: i, ...data }), id: undefined }));

describe('Responses request → canonical', () => {
  it('maps a string input, instructions, developer messages and parameters', () => {
    const canonical = codec.requestToCanonical({
      model: 'gpt-5', instructions: 'Be brief.', input: [{ role: 'developer', content: 'Answer in French.' }, { role: 'user', content: 'hi' }],
      max_output_tokens: 100, temperature: 0.2, top_p: 0.9, reasoning: { effort: 'high', summary: 'auto' }, metadata: { a: 'b' }, user: 'u1',
      text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } }, include: ['reasoning.encrypted_content'],
    });
    expect(canonical).toMatchObject({
      system: 'Be brief.\n\nAnswer in French.', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], maxTokens: 100,
      temperature: 0.2, topP: 0.9, reasoning: { effort: 'high', enabled: true, includeText: true }, metadata: { a: 'b' }, user: 'u1',
      responseFormat: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true }, warnings: ['include'],
    });
    expect(codec.requestToCanonical({ model: 'm', input: 'just text' }).messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'just text' }] }]);
  });

  it('joins reasoning, message and function call items into one assistant turn and tool outputs into one user turn', () => {
    const { messages } = codec.requestToCanonical({
      model: 'm',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'weather?' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'low' }] },
        { type: 'reasoning', id: 'rs_0', summary: [{ type: 'summary_text', text: 'openai' }], encrypted_content: 'gAAAA-openai-own' },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'thinking' }], encrypted_content: 'mg1.anthropic.sig' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Let me look.' }] },
        { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{"city":"Oslo"}' },
        { type: 'function_call', call_id: 'c2', name: 'weather', arguments: '{"city":"Rome"}' },
        { type: 'function_call_output', call_id: 'c1', output: 'cold' },
        { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'warm' }] },
      ],
    });
    expect(messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'weather?' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' }, detail: 'low' }] },
      { role: 'assistant', content: [
        // OpenAI's own encrypted reasoning means nothing to another provider; a tagged Anthropic signature does.
        { type: 'reasoning', text: 'openai' },
        { type: 'reasoning', text: 'thinking', signature: 'sig' },
        { type: 'text', text: 'Let me look.' },
        { type: 'tool_call', id: 'c1', name: 'weather', arguments: '{"city":"Oslo"}' },
        { type: 'tool_call', id: 'c2', name: 'weather', arguments: '{"city":"Rome"}' },
      ] },
      { role: 'user', content: [
        { type: 'tool_result', toolCallId: 'c1', content: [{ type: 'text', text: 'cold' }] },
        { type: 'tool_result', toolCallId: 'c2', content: [{ type: 'text', text: 'warm' }] },
      ] },
    ]);
  });

  it('refuses what only OpenAI can serve as not translatable, naming it', () => {
    const refusal = (body: Record<string, unknown>) => {
      try {
        codec.requestToCanonical({ model: 'm', input: 'x', ...body });
      } catch (err) {
        return err as { code: string; param: string; message: string };
      }
      throw new Error('not refused');
    };
    expect(refusal({ tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] })).toMatchObject({ code: 'not_translatable', param: 'tools[0].type', message: expect.stringContaining("'file_search'") });
    expect(refusal({ tool_choice: { type: 'web_search_preview' } })).toMatchObject({ code: 'not_translatable', param: 'tool_choice' });
    expect(refusal({ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file_1' }] }] })).toMatchObject({ code: 'not_translatable', param: 'input[0].content[0]' });
    expect(refusal({ input: [{ type: 'function_call_output', call_id: 'c', output: [{ type: 'input_file', file_data: 'data:application/pdf;base64,JVBERi0=' }] }] })).toMatchObject({ code: 'not_translatable', param: 'input[0].output[0]' });
    expect(refusal({ input: [{ type: 'item_reference', id: 'msg_1' }] })).toMatchObject({ code: 'not_translatable', param: 'input[0].type' });
    expect(refusal({ prompt: { id: 'pmpt_1' } })).toMatchObject({ code: 'not_translatable', param: 'prompt' });
    expect(refusal({ input: [] })).toMatchObject({ code: 'invalid_request', param: 'input' });
    // Not translatable anywhere: refused outright.
    expect(refusal({ background: true })).toMatchObject({ code: 'unsupported_parameter', param: 'background' });
  });
});

describe('files (input_file)', () => {
  const PDF = 'JVBERi0xLjQK';
  const request = (file: Record<string, unknown>) => codec.requestToCanonical({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 'summarise' }, { type: 'input_file', ...file }] }] });

  it('reads inline and linked files into canonical file parts', () => {
    expect(request({ filename: 'a.pdf', file_data: `data:application/pdf;base64,${PDF}` }).messages[0]!.content[1]).toEqual({ type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: PDF }, filename: 'a.pdf' });
    expect(request({ file_url: 'https://x.example/a.pdf' }).messages[0]!.content[1]).toEqual({ type: 'file', source: { kind: 'url', url: 'https://x.example/a.pdf' } });
    // Bare base64 (OpenAI documents file_data as base64) is typed from its bytes or its name, else refused.
    expect(request({ file_data: Buffer.from('%PDF-1.4').toString('base64') }).messages[0]!.content[1]).toMatchObject({ source: { kind: 'base64', mediaType: 'application/pdf' } });
    expect(request({ filename: 'n.txt', file_data: Buffer.from('notes').toString('base64') }).messages[0]!.content[1]).toMatchObject({ source: { mediaType: 'text/plain' } });
    expect(() => request({ file_data: Buffer.from('no type').toString('base64') })).toThrow(/data URL/);
  });

  it('reaches every provider format in the form it takes, or is refused by name', () => {
    const inline = request({ filename: 'a.pdf', file_data: `data:application/pdf;base64,${PDF}` });
    const linked = request({ file_url: 'https://x.example/a.pdf' });
    const text = request({ filename: 'n.txt', file_data: `data:text/plain;base64,${Buffer.from('hello notes').toString('base64')}` });
    const userContent = (format: 'anthropic' | 'openai' | 'gemini' | 'responses', req: typeof inline) => {
      const body = codecs[format].requestFromCanonical(req, 'm').body as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      return format === 'anthropic' ? body.messages[0].content[1] : format === 'openai' ? body.messages[0].content[1] : format === 'gemini' ? body.contents[0].parts[1] : body.input[0].content[1];
    };
    expect(userContent('anthropic', inline)).toEqual({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'a.pdf' });
    expect(userContent('anthropic', linked)).toEqual({ type: 'document', source: { type: 'url', url: 'https://x.example/a.pdf' } });
    expect(userContent('anthropic', text)).toEqual({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'hello notes' }, title: 'n.txt' });
    expect(userContent('openai', inline)).toEqual({ type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${PDF}` } });
    expect(userContent('gemini', inline)).toEqual({ inlineData: { mimeType: 'application/pdf', data: PDF } });
    expect(userContent('responses', inline)).toEqual({ type: 'input_file', filename: 'a.pdf', file_data: `data:application/pdf;base64,${PDF}` });
    expect(userContent('responses', linked)).toEqual({ type: 'input_file', file_url: 'https://x.example/a.pdf' });
    expect(() => userContent('openai', linked)).toThrow(expect.objectContaining({ code: 'not_translatable' }));
    expect(() => userContent('gemini', linked)).toThrow(expect.objectContaining({ code: 'not_translatable' }));
    const audio = request({ filename: 'a.wav', file_data: 'data:audio/wav;base64,UklGRg==' });
    expect(() => userContent('anthropic', audio)).toThrow(expect.objectContaining({ code: 'not_translatable', message: expect.stringContaining("'audio/wav'") }));
  });
});

describe('Responses pass-through', () => {
  it('sets the model and drops only reasoning another provider produced (OpenAI refuses encrypted content it did not make)', () => {
    const own = { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAA-own' };
    const body = { model: 'alias', input: [own, { type: 'reasoning', id: 'rs_x', summary: [], encrypted_content: 'mg1.anthropic.sig' }, { role: 'user', content: 'next' }], store: true };
    expect(codec.passthroughRequest(body, 'gpt-4o', false).body).toEqual({ model: 'gpt-4o', input: [own, { role: 'user', content: 'next' }], store: true });
    const plain = { model: 'alias', input: 'hi' };
    expect(codec.passthroughRequest(plain, 'gpt-4o', true).body).toEqual({ model: 'gpt-4o', input: 'hi' });
  });
});

describe('canonical → Responses request (a Responses-only provider)', () => {
  it('builds input items, tools and format, keeps nothing at the provider and names what it drops', () => {
    const { body, warnings } = codec.requestFromCanonical({
      model: 'client-name', system: 'sys', stream: true, maxTokens: 10, stop: ['END'], seed: 1,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'q' }, { type: 'image', source: { kind: 'url', url: 'https://x/y.png' } }] },
        { role: 'assistant', content: [{ type: 'reasoning', text: 'r', signature: 'anthropic-sig' }, { type: 'text', text: 'a' }, { type: 'tool_call', id: 'c1', name: 'f', arguments: '{}' }] },
        { role: 'user', content: [{ type: 'tool_result', toolCallId: 'c1', content: [{ type: 'text', text: 'boom' }], isError: true }] },
      ],
      tools: [{ name: 'f', parameters: { type: 'object' } }], toolChoice: { type: 'tool', name: 'f' },
      responseFormat: { type: 'json_object' }, reasoning: { budgetTokens: 20_000 },
    }, 'o3-pro');
    expect(body).toEqual({
      model: 'o3-pro', store: false, stream: true, instructions: 'sys', max_output_tokens: 10,
      input: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'q' }, { type: 'input_image', image_url: 'https://x/y.png', detail: 'auto' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'a', annotations: [] }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'Error: boom' },
      ],
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, strict: false }], tool_choice: { type: 'function', name: 'f' },
      text: { format: { type: 'json_object' } }, reasoning: { effort: 'high' },
    });
    expect(warnings).toEqual(['stop', 'seed']);
  });
});

describe('Responses response ⇄ canonical', () => {
  it('reads output items, status and usage of an upstream response', () => {
    const canonical = codec.responseToCanonical({
      id: 'resp_1', object: 'response', model: 'o3', status: 'completed',
      output: [
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'plan' }], encrypted_content: 'enc' },
        { type: 'web_search_call', id: 'ws_1', status: 'completed' },
        { type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'hi', annotations: [] }] },
        { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'f', arguments: '{"a":1}' },
      ],
      usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 4 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 3 } },
    });
    expect(canonical).toMatchObject({
      id: 'resp_1', model: 'o3', stopReason: 'tool_calls',
      content: [{ type: 'reasoning', text: 'plan', signature: 'enc' }, { type: 'text', text: 'hi' }, { type: 'tool_call', id: 'call_1', name: 'f', arguments: '{"a":1}' }],
      usage: { inputTokens: 10, outputTokens: 7, cachedInputTokens: 4, reasoningTokens: 3 },
    });
    expect(codec.responseToCanonical({ object: 'response', status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [] }).stopReason).toBe('length');
    expect(() => codec.responseToCanonical({ object: 'response', status: 'failed', error: { message: 'server had an error' }, output: [] })).toThrow(/server had an error/);
    expect(() => codec.responseToCanonical({ choices: [] })).toThrow(/not a Responses API response/);
  });

  it('builds a response named after the request, echoing its parameters', () => {
    const body = codec.responseFromCanonical(
      { id: 'msg_x', model: 'claude', stopReason: 'length', usage: { inputTokens: 5, outputTokens: 2, reasoningTokens: 1 }, content: [{ type: 'reasoning', text: 'r', signature: 's' }, { type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
      { requestId: 'req_abc', request: { model: 'claude', instructions: 'sys', metadata: { k: 'v' }, store: false }, upstreamFormat: 'anthropic' },
    );
    expect(body).toMatchObject({
      id: 'resp_abc', object: 'response', status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, instructions: 'sys', metadata: { k: 'v' }, store: false,
      output: [
        { id: 'rs_abc_0', type: 'reasoning', summary: [{ type: 'summary_text', text: 'r' }], encrypted_content: 'mg1.anthropic.s' },
        { id: 'msg_abc_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'ab', annotations: [] }] },
      ],
      usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7, output_tokens_details: { reasoning_tokens: 1 }, input_tokens_details: { cached_tokens: 0 } },
    });
  });
});

describe('Responses streams', () => {
  const canonicalEvents: StreamEvent[] = [
    { type: 'start', id: 'msg_1', model: 'claude' },
    { type: 'reasoning_delta', text: 'let me ' },
    { type: 'reasoning_delta', text: 'think' },
    { type: 'reasoning_delta', text: '', signature: 'sig' },
    { type: 'text_delta', text: 'Hello' },
    { type: 'text_delta', text: ' world' },
    { type: 'tool_call_start', index: 0, id: 'call_1', name: 'f' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '{"a":' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '1}' },
    { type: 'tool_call_end', index: 0 },
    { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 3, outputTokens: 4 } },
  ];

  it('encodes an event sequence the openai SDK accumulates into the same response it would get whole', async () => {
    const text = (await collect(codec.encodeStream(from(canonicalEvents), { includeUsage: true, context: { requestId: 'req_s1', upstreamFormat: 'anthropic' } }))).join('');
    const events = (await collect(parseSSE(from([text])))).map((m) => ({ name: m.event, data: JSON.parse(m.data) as ResponseStreamEvent }));
    expect(events.every((e) => e.name === e.data.type)).toBe(true);
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_, i) => i));
    let snapshot: Response | undefined;
    for (const { data } of events) snapshot = accumulateResponse(data, snapshot);
    const completed = events.at(-1)!.data as Extract<ResponseStreamEvent, { type: 'response.completed' }>;
    expect(completed.type).toBe('response.completed');
    expect(snapshot!.output).toEqual(completed.response.output);
    expect(completed.response).toMatchObject({
      id: 'resp_s1', status: 'completed',
      output: [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'let me think' }], encrypted_content: 'mg1.anthropic.sig' },
        { type: 'message', content: [{ type: 'output_text', text: 'Hello world' }] },
        { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{"a":1}', status: 'completed' },
      ],
      usage: { input_tokens: 3, output_tokens: 4 },
    });
  });

  it('ends with response.failed when the provider ended its answer with an error', async () => {
    const events: StreamEvent[] = [{ type: 'start', id: 'x', model: 'gemini' }, { type: 'text_delta', text: 'par' }, { type: 'finish', stopReason: 'error', usage: { inputTokens: 1, outputTokens: 1 } }];
    const text = (await collect(codec.encodeStream(from(events), { includeUsage: true }))).join('');
    const last = JSON.parse((await collect(parseSSE(from([text])))).at(-1)!.data) as { type: string; response: { status: string; error: { code: string } } };
    expect(last).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'server_error' } } });
    const whole = codec.responseFromCanonical({ id: 'x', model: 'gemini', content: [], stopReason: 'error', usage: { inputTokens: 1, outputTokens: 0 } });
    expect(whole).toMatchObject({ status: 'failed', error: { code: 'server_error' }, incomplete_details: null });
  });

  it('decodes what it encodes back to the same canonical events', async () => {
    const text = (await collect(codec.encodeStream(from(canonicalEvents), { includeUsage: true }))).join('');
    const decoded = await collect(codec.decodeStream(parseSSE(from([text]))));
    expect(decoded.map((e) => e.type)).toEqual(canonicalEvents.map((e) => e.type));
    expect(decoded.at(-1)).toEqual(canonicalEvents.at(-1));
    expect(decoded.filter((e) => e.type === 'reasoning_delta').map((e) => (e as { signature?: string }).signature).filter(Boolean)).toEqual(['mg1.unknown.sig']);
  });

  it('takes a call whose arguments arrive only whole, and fails on error events and streams cut short', async () => {
    const base = [{ type: 'response.created', response: { id: 'resp_1', model: 'm' } }];
    const whole = await collect(codec.decodeStream(from(sse([
      ...base,
      { type: 'response.output_item.added', output_index: 0, item: { type: 'function_call', call_id: 'c', name: 'f', arguments: '' } },
      { type: 'response.output_item.done', output_index: 0, item: { type: 'function_call', call_id: 'c', name: 'f', arguments: '{"x":2}' } },
      { type: 'response.completed', response: { status: 'completed', output: [], usage: { input_tokens: 1, output_tokens: 1 } } },
    ]))));
    expect(whole.slice(1)).toEqual([
      { type: 'tool_call_start', index: 0, id: 'c', name: 'f' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"x":2}' },
      { type: 'tool_call_end', index: 0 },
      { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 1, outputTokens: 1 } },
    ]);
    await expect(collect(codec.decodeStream(from(sse([...base, { type: 'error', code: 'server_error', message: 'overloaded' }]))))).rejects.toThrow(/overloaded/);
    await expect(collect(codec.decodeStream(from(sse([...base, { type: 'response.failed', response: { status: 'failed', error: { message: 'bad' } } }]))))).rejects.toThrow(/bad/);
    await expect(collect(codec.decodeStream(from(sse([...base, { type: 'response.output_text.delta', delta: 'partial' }]))))).rejects.toThrow(/before response.completed/);
  });

  it('taps a pass-through stream for usage, content and errors without holding anything back', () => {
    const [delta, done, error] = sse([
      { type: 'response.output_text.delta', delta: 'x' },
      { type: 'response.completed', response: { usage: { input_tokens: 9, output_tokens: 2, input_tokens_details: { cached_tokens: 1 } } } },
      { type: 'error', message: 'boom' },
    ]);
    expect(codec.tapStreamMessage(delta!, false)).toEqual({ forward: true, content: true });
    expect(codec.tapStreamMessage(done!, false)).toEqual({ forward: true, usage: { inputTokens: 9, outputTokens: 2, cachedInputTokens: 1 } });
    expect(codec.tapStreamMessage(error!, false)).toEqual({ forward: true, error: 'boom' });
  });
});
