import { describe, expect, it } from 'vitest';
import { anthropicCodec } from '../../../../src/formats/anthropic/index.js';
import { parseSSE } from '../../../../src/formats/sse.js';
import { collect, formatFixtures, fromArray } from '../fixtures.js';

const { fixtureStream } = formatFixtures('anthropic');

const decode = (name: string) => collect(anthropicCodec.decodeStream(fixtureStream(name)));
const joined = (events: Array<{ type: string }>, type: string, field: string) =>
  events.filter((e) => e.type === type).map((e) => (e as unknown as Record<string, string>)[field]).join('');

describe('Anthropic Messages streams (recorded shapes)', () => {
  it('decodes a text stream: input tokens from message_start, output tokens from message_delta', async () => {
    const events = await decode('text-stream');
    expect(events[0]).toMatchObject({ type: 'start', id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY', model: 'claude-sonnet-4-5-20250929' });
    expect(joined(events, 'text_delta', 'text')).toBe('Hello!');
    expect(events.at(-1)).toEqual({ type: 'finish', stopReason: 'stop', usage: { inputTokens: 25, outputTokens: 15 } });
  });

  it('decodes text then a tool_use block whose input arrives as input_json_delta pieces', async () => {
    const events = await decode('tool-use-stream');
    expect(joined(events, 'text_delta', 'text')).toBe("Okay, let's check the weather for San Francisco, CA:");
    expect(events.find((e) => e.type === 'tool_call_start')).toEqual({ type: 'tool_call_start', index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather' });
    expect(JSON.parse(joined(events, 'tool_call_delta', 'argumentsDelta'))).toEqual({ location: 'San Francisco, CA', unit: 'fahrenheit' });
    expect(events.slice(-2)).toEqual([{ type: 'tool_call_end', index: 0 }, { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 472, outputTokens: 89 } }]);
  });

  it('decodes thinking deltas and the signature as reasoning, and counts cache reads into input tokens', async () => {
    const events = await decode('thinking-stream');
    expect(joined(events, 'reasoning_delta', 'text')).toContain('So GCD(1071, 462) = 21');
    expect(events.find((e) => e.type === 'reasoning_delta' && e.signature)).toMatchObject({ signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' });
    expect(joined(events, 'text_delta', 'text')).toBe('The greatest common divisor of 1071 and 462 is **21**.');
    expect(events.at(-1)).toEqual({ type: 'finish', stopReason: 'stop', usage: { inputTokens: 100, outputTokens: 78, cachedInputTokens: 40 } });
  });

  it('throws a retryable error on an overloaded_error event', async () => {
    await expect(decode('error-stream')).rejects.toMatchObject({ retryable: true, message: expect.stringContaining('overloaded_error') });
  });

  it('re-encodes decoded events into an event sequence that decodes to the same events', async () => {
    for (const name of ['text-stream', 'tool-use-stream', 'thinking-stream']) {
      const events = await decode(name);
      const frames = await collect(anthropicCodec.encodeStream(fromArray(events), { includeUsage: true }));
      expect(frames.every((frame) => /^event: [a-z_]+\ndata: /.test(frame))).toBe(true);
      expect(await collect(anthropicCodec.decodeStream(parseSSE(fromArray(frames))))).toEqual(events);
    }
  });

  it('pass-through tap: usage from message_start and message_delta, content from deltas, errors named', async () => {
    const messages = await collect(fixtureStream('tool-use-stream'));
    expect(anthropicCodec.tapStreamMessage(messages[0]!, true)).toEqual({ forward: true, usage: { inputTokens: 472, outputTokens: 2 } });
    expect(anthropicCodec.tapStreamMessage(messages.at(-2)!, true)).toEqual({ forward: true, usage: { outputTokens: 89 } });
    expect(anthropicCodec.tapStreamMessage(messages[3]!, true)).toEqual({ forward: true, content: true });
    const [, error] = await collect(fixtureStream('error-stream'));
    expect(anthropicCodec.tapStreamMessage(error!, true).error).toBe('overloaded_error: Overloaded');
  });
});
