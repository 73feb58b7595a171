import { describe, expect, it } from 'vitest';
import type { CanonicalRequest, StreamEvent } from '../../../../src/formats/canonical.js';
import { bedrockCodec } from '../../../../src/formats/bedrock/index.js';
import { UpstreamError } from '../../../../src/errors/index.js';
import type { SSEMessage } from '../../../../src/formats/sse.js';

const base: CanonicalRequest = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], stream: false };
const tool = { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };

describe('Bedrock Converse request', () => {
  it('maps tools, the tool choice, tool calls and tool results (ids cleaned the same way on both sides)', () => {
    const { body, warnings } = bedrockCodec.requestFromCanonical({
      ...base,
      tools: [tool],
      toolChoice: { type: 'tool', name: 'get_weather' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
        { role: 'assistant', content: [{ type: 'tool_call', id: 'call.1/x', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
        { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call.1/x', content: [{ type: 'text', text: 'sunny' }], isError: true }] },
      ],
    }, 'm');
    expect(warnings).toEqual([]);
    expect(body.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'get_weather', description: 'Weather', inputSchema: { json: tool.parameters } } }],
      toolChoice: { tool: { name: 'get_weather' } },
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ text: 'weather?' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'call_1_x', name: 'get_weather', input: { city: 'Paris' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'call_1_x', content: [{ text: 'sunny' }], status: 'error' } }] },
    ]);
  });

  it('maps required to any, and leaves tools out for tool_choice none when the history has no tool blocks', () => {
    expect(bedrockCodec.requestFromCanonical({ ...base, tools: [tool], toolChoice: { type: 'required' } }, 'm').body.toolConfig).toMatchObject({ toolChoice: { any: {} } });
    const none = bedrockCodec.requestFromCanonical({ ...base, tools: [tool], toolChoice: { type: 'none' } }, 'm');
    expect(none.body.toolConfig).toBeUndefined();
    expect(none.warnings).toEqual([]);
  });

  it('sends images as bytes or S3 locations and refuses web URLs with not_translatable', () => {
    const withImage = (url: string) => ({ ...base, messages: [{ role: 'user' as const, content: [{ type: 'image' as const, source: { kind: 'url' as const, url } }] }] });
    expect(bedrockCodec.requestFromCanonical(withImage('s3://bucket/cat.webp'), 'm').body.messages).toEqual([
      { role: 'user', content: [{ image: { format: 'webp', source: { s3Location: { uri: 's3://bucket/cat.webp' } } } }] },
    ]);
    expect(() => bedrockCodec.requestFromCanonical(withImage('https://example.com/cat.png'), 'm')).toThrow(expect.objectContaining({ code: 'not_translatable' }));
    const tiff = { ...base, messages: [{ role: 'user' as const, content: [{ type: 'image' as const, source: { kind: 'base64' as const, mediaType: 'image/tiff', data: 'AA==' } }] }] };
    expect(() => bedrockCodec.requestFromCanonical(tiff, 'm')).toThrow(expect.objectContaining({ code: 'not_translatable' }));
  });

  it('names the parameters Converse cannot carry, and refuses n > 1', () => {
    const { body, warnings } = bedrockCodec.requestFromCanonical({ ...base, topK: 5, seed: 1, presencePenalty: 0.1, metadata: { team: 'a' } }, 'm');
    expect(warnings).toEqual(['top_k', 'seed', 'presence_penalty']);
    expect(body.requestMetadata).toEqual({ team: 'a' });
    expect(() => bedrockCodec.requestFromCanonical({ ...base, n: 2 }, 'm')).toThrow(expect.objectContaining({ code: 'not_translatable', param: 'n' }));
    const odd = bedrockCodec.requestFromCanonical({ ...base, metadata: { team: 'a', 'emoji 🙂': 'x', note: 'semi;colon' } }, 'm');
    expect(odd.body.requestMetadata).toEqual({ team: 'a' });
    expect(odd.warnings).toEqual(['metadata']);
  });
});

describe('Bedrock Converse response', () => {
  it('reads text, tool use and usage with cache tokens added into the input', () => {
    const res = bedrockCodec.responseToCanonical({
      output: { message: { role: 'assistant', content: [{ text: 'let me check' }, { toolUse: { toolUseId: 'tu1', name: 'get_weather', input: { city: 'Oslo' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 10, outputTokens: 5, totalTokens: 45, cacheReadInputTokens: 20, cacheWriteInputTokens: 10 },
      metrics: { latencyMs: 100 },
    });
    expect(res.content).toEqual([{ type: 'text', text: 'let me check' }, { type: 'tool_call', id: 'tu1', name: 'get_weather', arguments: '{"city":"Oslo"}' }]);
    expect(res.stopReason).toBe('tool_calls');
    expect(res.usage).toEqual({ inputTokens: 40, outputTokens: 5, cachedInputTokens: 20, cacheWriteInputTokens: 10 });
  });

  it('maps guardrail and length stops, and refuses a body that is not a Converse response', () => {
    const stop = (stopReason: string) => bedrockCodec.responseToCanonical({ output: { message: { content: [] } }, stopReason }).stopReason;
    expect(stop('guardrail_intervened')).toBe('content_filter');
    expect(stop('max_tokens')).toBe('length');
    expect(stop('stop_sequence')).toBe('stop');
    expect(() => bedrockCodec.responseToCanonical({ message: 'nope' })).toThrow(UpstreamError);
  });
});

async function decode(messages: SSEMessage[]): Promise<StreamEvent[]> {
  async function* source() {
    for (const m of messages) yield m;
  }
  const out: StreamEvent[] = [];
  for await (const e of bedrockCodec.decodeStream(source())) out.push(e);
  return out;
}

const ev = (event: string, data: unknown): SSEMessage => ({ event, data: JSON.stringify(data), id: undefined });

describe('Bedrock ConverseStream events', () => {
  it('decodes text and a tool call, finishing with the usage that follows messageStop', async () => {
    const events = await decode([
      ev('messageStart', { role: 'assistant', p: 'abc' }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Checking' } }),
      ev('contentBlockStop', { contentBlockIndex: 0 }),
      ev('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tu1', name: 'get_weather' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '"Oslo"}' } } }),
      ev('contentBlockStop', { contentBlockIndex: 1 }),
      ev('messageStop', { stopReason: 'tool_use' }),
      ev('metadata', { usage: { inputTokens: 3, outputTokens: 7, cacheReadInputTokens: 4 }, metrics: { latencyMs: 9 } }),
    ]);
    expect(events).toEqual([
      { type: 'start', id: 'bedrock-stream', model: '' },
      { type: 'text_delta', text: 'Checking' },
      { type: 'tool_call_start', index: 0, id: 'tu1', name: 'get_weather' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"city":' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '"Oslo"}' },
      { type: 'tool_call_end', index: 0 },
      { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 7, outputTokens: 7, cachedInputTokens: 4 } },
    ]);
  });

  it('turns an exception event into an UpstreamError, retryable for throttling', async () => {
    const err = await decode([ev('messageStart', {}), ev('throttlingException', { message: 'Too many tokens' })]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).retryable).toBe(true);
    expect((err as Error).message).toContain('throttlingException');
    const validation = await decode([ev('messageStart', {}), ev('validationException', { message: 'bad' })]).catch((e: unknown) => e);
    expect((validation as UpstreamError).retryable).toBe(false);
  });

  it('refuses a stream cut before messageStop', async () => {
    await expect(decode([ev('messageStart', {}), ev('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'x' } })])).rejects.toThrow(/before messageStop/);
  });
});
