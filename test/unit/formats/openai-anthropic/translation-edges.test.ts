import { describe, expect, it } from 'vitest';
import type { CanonicalRequest, StreamEvent } from '../../../../src/formats/canonical.js';
import { codecs } from '../../../../src/formats/index.js';
import type { SSEMessage } from '../../../../src/formats/sse.js';

const request = (overrides: Partial<CanonicalRequest>): CanonicalRequest => ({
  model: 'any', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], stream: false, ...overrides,
});
const weather = [{ name: 'get_time', parameters: { type: 'object', properties: {} } }];

async function decodeAnthropic(events: Array<Record<string, unknown>>): Promise<StreamEvent[]> {
  const messages = (async function* (): AsyncGenerator<SSEMessage> {
    for (const event of events) yield { event: String(event.type), data: JSON.stringify(event) } as SSEMessage;
  })();
  const out: StreamEvent[] = [];
  for await (const event of codecs.anthropic.decodeStream(messages)) out.push(event);
  return out;
}

describe('Anthropic stream → other formats', () => {
  const start = { type: 'message_start', message: { id: 'msg_1', model: 'claude', usage: { input_tokens: 5, output_tokens: 0 } } };
  const end = [{ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 3 } }, { type: 'message_stop' }];

  it('gives a tool called with no arguments "{}" as its arguments (OpenAI clients JSON.parse them)', async () => {
    const events = await decodeAnthropic([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_time', input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_stop', index: 0 },
      ...end,
    ]);
    const args = events.filter((e) => e.type === 'tool_call_delta').map((e) => (e as { argumentsDelta: string }).argumentsDelta).join('');
    expect(JSON.parse(args)).toEqual({});
  });

  it('takes a tool input sent whole in content_block_start (Anthropic-compatible servers do)', async () => {
    const events = await decodeAnthropic([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_time', input: { tz: 'UTC' } } },
      { type: 'content_block_stop', index: 0 },
      ...end,
    ]);
    const args = events.filter((e) => e.type === 'tool_call_delta').map((e) => (e as { argumentsDelta: string }).argumentsDelta).join('');
    expect(JSON.parse(args)).toEqual({ tz: 'UTC' });
  });

  it('reports a stop at the context window as a truncated answer', () => {
    const response = codecs.anthropic.responseToCanonical({
      id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'text', text: 'cut' }],
      stop_reason: 'model_context_window_exceeded', usage: { input_tokens: 1, output_tokens: 1 },
    });
    expect(response.stopReason).toBe('length');
  });
});

describe('canonical → Anthropic request', () => {
  const toAnthropic = (overrides: Partial<CanonicalRequest>) => codecs.anthropic.requestFromCanonical(request(overrides), 'claude-sonnet-4-5');

  it('keeps temperature and drops top_p when both are set (current Claude models refuse both)', () => {
    const { body, warnings } = toAnthropic({ temperature: 0.7, topP: 0.9 });
    expect(body).toMatchObject({ temperature: 0.7 });
    expect(body.top_p).toBeUndefined();
    expect(warnings).toContain('top_p (temperature is set)');
    expect(toAnthropic({ topP: 0.9 }).body.top_p).toBe(0.9);
  });

  it('drops empty turns (Anthropic refuses them) and merges the neighbours this brings together', () => {
    const { body } = toAnthropic({
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'one' }] },
        { role: 'assistant', content: [{ type: 'text', text: '' }] },
        { role: 'user', content: [{ type: 'text', text: 'two' }] },
      ],
    });
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] }]);
  });

  it('asks for one tool call at a time when parallel tool calls are off, also without a tool_choice', () => {
    expect(toAnthropic({ tools: weather, parallelToolCalls: false }).body.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(toAnthropic({ tools: weather }).body.tool_choice).toBeUndefined();
  });
});

describe('canonical → OpenAI request', () => {
  const toOpenAI = (overrides: Partial<CanonicalRequest>, model = 'gpt-4o', providerType = 'openai') =>
    codecs.openai.requestFromCanonical(request(overrides), model, { providerType });

  it('sends max_completion_tokens to OpenAI and to reasoning models, max_tokens to other compatible servers', () => {
    expect(toOpenAI({ maxTokens: 100 }).body).toMatchObject({ max_completion_tokens: 100 });
    expect(toOpenAI({ maxTokens: 100 }, 'o4-mini', 'azure_openai').body).toMatchObject({ max_completion_tokens: 100 });
    const local = toOpenAI({ maxTokens: 100 }, 'llama3.2:3b', 'openai_compatible').body;
    expect(local).toMatchObject({ max_tokens: 100 });
    expect(local.max_completion_tokens).toBeUndefined();
  });

  it('refuses n > 1 (only the first choice is translated back) with a 400 naming n', () => {
    expect(() => toOpenAI({ n: 2 })).toThrow(expect.objectContaining({ status: 400, code: 'not_translatable', param: 'n' }));
  });

  it('marks a failed tool result in its text, names dropped tool images, caps stop sequences at 4', () => {
    const { body, warnings } = toOpenAI({
      stop: ['a', 'b', 'c', 'd', 'e'],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'time?' }] },
        { role: 'assistant', content: [{ type: 'tool_call', id: 'call_1', name: 'get_time', arguments: '{}' }] },
        { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1', isError: true, content: [{ type: 'text', text: 'clock broken' }, { type: 'image', source: { kind: 'url', url: 'https://x.test/a.png' } }] }] },
      ],
    });
    expect((body.messages as Array<{ role: string; content: unknown }>).find((m) => m.role === 'tool')?.content).toBe('Error: clock broken');
    expect(body.stop).toEqual(['a', 'b', 'c', 'd']);
    expect(warnings).toEqual(expect.arrayContaining(['stop (only the first 4 sequences)', 'images in tool results']));
  });
});

describe('OpenAI stream → other formats', () => {
  it('translates the first choice only, even if an upstream streams others', async () => {
    const chunks = [
      { id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'Hello' } }] },
      { id: 'c', model: 'm', choices: [{ index: 1, delta: { content: 'Bonjour' } }] },
      { id: 'c', model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
    ];
    const messages = (async function* (): AsyncGenerator<SSEMessage> {
      for (const chunk of chunks) yield { data: JSON.stringify(chunk) } as SSEMessage;
      yield { data: '[DONE]' } as SSEMessage;
    })();
    const text: string[] = [];
    for await (const event of codecs.openai.decodeStream(messages)) if (event.type === 'text_delta') text.push(event.text);
    expect(text.join('')).toBe('Hello');
  });
});

