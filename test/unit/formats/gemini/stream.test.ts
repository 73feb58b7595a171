import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../../../src/formats/canonical.js';
import { UpstreamError } from '../../../../src/errors/index.js';
import { geminiCodec } from '../../../../src/formats/gemini/index.js';
import { parseSSE } from '../../../../src/formats/sse.js';
import { collect, fixtureStream, fromArray, ssePayloads } from './fixtures.js';

const decode = (name: string) => collect(geminiCodec.decodeStream(fixtureStream(name)));
const encode = async (events: StreamEvent[]) => collect(geminiCodec.encodeStream(fromArray(events), { includeUsage: false }));

describe('Gemini stream → canonical events', () => {
  it('yields start, one text delta per chunk and a finish with the usage of the last chunk', async () => {
    expect(await decode('text-stream')).toEqual([
      { type: 'start', id: '8VhcaPnVMMGx1dkP5s6b6Ac', model: 'gemini-2.5-flash', usage: { inputTokens: 9 } },
      { type: 'text_delta', text: 'Once upon' },
      { type: 'text_delta', text: ' a time, a small robot' },
      { type: 'text_delta', text: ' learned to paint.' },
      { type: 'finish', stopReason: 'stop', usage: { inputTokens: 9, outputTokens: 52, reasoningTokens: 38 } },
    ]);
  });

  it('yields thought parts as reasoning deltas and skips empty text', async () => {
    const events = await decode('thought-stream');
    expect(events.filter((e) => e.type === 'reasoning_delta' || e.type === 'text_delta')).toEqual([
      { type: 'reasoning_delta', text: '**Planning the answer**\n\nThe user wants a short proof.' },
      { type: 'text_delta', text: 'There are infinitely many primes.' },
    ]);
    expect(events.at(-1)).toEqual({ type: 'finish', stopReason: 'stop', usage: { inputTokens: 15, outputTokens: 227, reasoningTokens: 220 } });
  });

  it('turns each whole functionCall into start, one delta with all arguments, end — and stops with tool_calls', async () => {
    expect((await decode('function-call-stream')).slice(1)).toEqual([
      { type: 'text_delta', text: 'Let me check both cities.' },
      { type: 'tool_call_start', index: 0, id: 'call_3lpcaJ2hBf6U7dcP_Ze46Ac_0', name: 'get_weather' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"city":"Paris"}' },
      { type: 'tool_call_end', index: 0 },
      { type: 'tool_call_start', index: 1, id: 'call_3lpcaJ2hBf6U7dcP_Ze46Ac_1', name: 'get_time' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"timezone":"Europe/London"}' },
      { type: 'tool_call_end', index: 1 },
      { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 97, outputTokens: 41 } },
    ]);
  });

  it('gives the same tool call ids as the non-streaming response would', async () => {
    const chunks = (await collect(fixtureStream('function-call-stream'))).map((m) => JSON.parse(m.data) as Record<string, unknown>);
    const whole = geminiCodec.responseToCanonical(chunks.at(-1));
    const streamed = (await decode('function-call-stream')).filter((e) => e.type === 'tool_call_start').map((e) => e.id);
    expect(streamed).toEqual(whole.content.map((part) => (part as { id: string }).id));
  });

  it('finishes a blocked prompt with content_filter', async () => {
    expect(await decode('blocked-stream')).toEqual([
      { type: 'start', id: 'e1tcaM3zCqOf1dkP8a2B4Ac', model: 'gemini-2.5-flash', usage: { inputTokens: 18 } },
      { type: 'finish', stopReason: 'content_filter', usage: { inputTokens: 18, outputTokens: 0 } },
    ]);
  });

  it('throws UpstreamError on an error payload, after the events before it', async () => {
    const seen: StreamEvent[] = [];
    const error = await (async () => {
      try {
        for await (const event of geminiCodec.decodeStream(fixtureStream('error-stream'))) seen.push(event);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(seen.map((e) => e.type)).toEqual(['start', 'text_delta']);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ upstreamStatus: 503, retryable: true });
    expect((error as Error).message).toContain('The model is overloaded');
  });

  it('throws when the stream ends without any chunk or without a finishReason', async () => {
    await expect(collect(geminiCodec.decodeStream(fromArray([])))).rejects.toMatchObject({ retryable: true });
    const truncated = parseSSE(fromArray(['data: {"candidates":[{"content":{"parts":[{"text":"Hal"}],"role":"model"},"index":0}]}\n\n']));
    await expect(collect(geminiCodec.decodeStream(truncated))).rejects.toThrow(/finishReason/);
  });
});

describe('canonical events → Gemini stream', () => {
  const events: StreamEvent[] = [
    { type: 'start', id: 'msg_01', model: 'claude-sonnet-4-5' },
    { type: 'reasoning_delta', text: 'Let me think.' },
    { type: 'reasoning_delta', text: '', signature: 'sig' },
    { type: 'text_delta', text: 'Checking ' },
    { type: 'text_delta', text: 'the weather.' },
    { type: 'tool_call_start', index: 0, id: 'toolu_1', name: 'get_weather' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '{"city":' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '"Paris"}' },
    { type: 'tool_call_end', index: 0 },
    { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 50, outputTokens: 20 } },
  ];

  it('sends a chunk per delta, each tool call whole, and a last chunk with finishReason and usage', async () => {
    const payloads = ssePayloads(await encode(events));
    const base = { modelVersion: 'claude-sonnet-4-5', responseId: 'msg_01' };
    expect(payloads).toEqual([
      { candidates: [{ content: { role: 'model', parts: [{ text: 'Let me think.', thought: true }] }, index: 0 }], ...base },
      { candidates: [{ content: { role: 'model', parts: [{ text: 'Checking ' }] }, index: 0 }], ...base },
      { candidates: [{ content: { role: 'model', parts: [{ text: 'the weather.' }] }, index: 0 }], ...base },
      { candidates: [{ content: { role: 'model', parts: [{ functionCall: { id: 'toolu_1', name: 'get_weather', args: { city: 'Paris' } } }] }, index: 0 }], ...base },
      {
        candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'STOP', index: 0 }],
        usageMetadata: { promptTokenCount: 50, candidatesTokenCount: 20, totalTokenCount: 70 },
        ...base,
      },
    ]);
  });

  it('sends the same stream whether or not the client asked for usage', async () => {
    const withUsage = await collect(geminiCodec.encodeStream(fromArray(events), { includeUsage: true }));
    expect(withUsage).toEqual(await encode(events));
  });

  it('flushes a tool call its producer never ended before the last chunk', async () => {
    const payloads = ssePayloads(await encode([
      { type: 'start', id: 'r', model: 'm' },
      { type: 'tool_call_start', index: 0, id: 'c0', name: 'f' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{}' },
      { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 1, outputTokens: 1 } },
    ]));
    expect(payloads.map((p) => p.candidates[0].content.parts[0])).toEqual([{ functionCall: { id: 'c0', name: 'f', args: {} } }, { text: '' }]);
  });

  it('decodes back to the same text, tool calls and finish', async () => {
    const decoded = await collect(geminiCodec.decodeStream(parseSSE(fromArray(await encode(events)))));
    expect(decoded).toEqual([
      { type: 'start', id: 'msg_01', model: 'claude-sonnet-4-5' },
      { type: 'reasoning_delta', text: 'Let me think.' },
      { type: 'text_delta', text: 'Checking ' },
      { type: 'text_delta', text: 'the weather.' },
      { type: 'tool_call_start', index: 0, id: 'toolu_1', name: 'get_weather' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"city":"Paris"}' },
      { type: 'tool_call_end', index: 0 },
      { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 50, outputTokens: 20 } },
    ]);
  });
});
