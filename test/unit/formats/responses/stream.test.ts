import { describe, expect, it } from 'vitest';
import { codecs } from '../../../../src/formats/index.js';
import { collect, formatFixtures } from '../fixtures.js';

/** OpenAI Responses streams in the shapes of the API reference's examples (test/fixtures/responses/). */
const codec = codecs.responses;
const { fixture, fixtureStream } = formatFixtures('responses');

describe('Responses provider streams → canonical', () => {
  it('a text answer: start, deltas, finish with usage', async () => {
    const events = await collect(codec.decodeStream(fixtureStream('text-stream')));
    expect(events[0]).toEqual({ type: 'start', id: 'resp_67c9fdcecf488190bdd9a0a5de3a00e8', model: 'gpt-4.1-2025-04-14', created: 1741290958 });
    expect(events.filter((e) => e.type === 'text_delta').map((e) => (e as { text: string }).text).join('')).toBe('Hi there! How can I assist you today?');
    expect(events.at(-1)).toEqual({ type: 'finish', stopReason: 'stop', usage: { inputTokens: 37, outputTokens: 11 } });
  });

  it('a function call: start, argument deltas, end; stop reason tool_calls; cached tokens', async () => {
    const events = await collect(codec.decodeStream(fixtureStream('function-call-stream')));
    expect(events.slice(1)).toEqual([
      { type: 'tool_call_start', index: 0, id: 'call_12345xyz', name: 'get_weather' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"location":' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '"Paris, France"}' },
      { type: 'tool_call_end', index: 0 },
      { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 291, outputTokens: 23, cachedInputTokens: 128 } },
    ]);
  });

  it('reasoning: summary deltas and the encrypted state, then the answer; reasoning tokens counted', async () => {
    const events = await collect(codec.decodeStream(fixtureStream('reasoning-stream')));
    const reasoning = events.filter((e) => e.type === 'reasoning_delta');
    expect(reasoning.map((e) => (e as { text: string }).text).join('')).toBe('**Answering a simple question**\n\nThe user asks for the capital of France.');
    expect(reasoning.at(-1)).toEqual({ type: 'reasoning_delta', text: '', signature: 'gAAAAABodsoC-opaque-state' });
    expect(events.at(-1)).toEqual({ type: 'finish', stopReason: 'stop', usage: { inputTokens: 13, outputTokens: 139, reasoningTokens: 128 } });
  });

  it('an error event after content fails the stream (the client gets an error, not a truncated answer)', async () => {
    await expect(collect(codec.decodeStream(fixtureStream('error-stream')))).rejects.toThrow(/The server had an error/);
  });

  it('taps pass-through streams for content and usage without holding anything back', async () => {
    const taps = (await collect(fixtureStream('reasoning-stream'))).map((m) => codec.tapStreamMessage(m, false));
    expect(taps.every((t) => t.forward)).toBe(true);
    expect(taps.some((t) => t.content)).toBe(true);
    expect(taps.at(-1)!.usage).toEqual({ inputTokens: 13, outputTokens: 139, reasoningTokens: 128 });
    const error = (await collect(fixtureStream('error-stream'))).map((m) => codec.tapStreamMessage(m, false)).at(-1);
    expect(error).toEqual({ forward: true, error: 'The server had an error while processing your request. Sorry about that!' });
  });

  it('a response cut by max_output_tokens is a length stop with its usage', () => {
    const canonical = codec.responseToCanonical(fixture('incomplete-response'));
    expect(canonical).toMatchObject({ stopReason: 'length', content: [{ type: 'text', text: 'Hi there! How' }], usage: { inputTokens: 37, outputTokens: 4 } });
    expect(codec.usageFromResponse(fixture('incomplete-response'))).toEqual({ inputTokens: 37, outputTokens: 4 });
  });
});
