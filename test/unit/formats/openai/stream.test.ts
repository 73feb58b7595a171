import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../../../src/formats/canonical.js';
import { openaiCodec } from '../../../../src/formats/openai/index.js';
import { parseSSE } from '../../../../src/formats/sse.js';
import { collect, formatFixtures, fromArray } from '../fixtures.js';

const { fixtureStream } = formatFixtures('openai');

const decode = (name: string) => collect(openaiCodec.decodeStream(fixtureStream(name)));

describe('OpenAI chat.completion.chunk streams (recorded shapes)', () => {
  it('decodes a text stream, with the usage chunk that follows finish_reason', async () => {
    const events = await decode('text-stream');
    expect(events[0]).toEqual({ type: 'start', id: 'chatcmpl-123', model: 'gpt-4o-mini', created: 1694268190 });
    expect(events.filter((e) => e.type === 'text_delta').map((e) => (e as { text: string }).text).join('')).toBe('Hello! How can I help you today?');
    expect(events.at(-1)).toEqual({ type: 'finish', stopReason: 'stop', usage: { inputTokens: 19, outputTokens: 10 } });
  });

  it('decodes streamed tool-call arguments into one call with its JSON arguments, and cached tokens', async () => {
    const events = await decode('tool-call-stream');
    expect(events.find((e) => e.type === 'tool_call_start')).toEqual({ type: 'tool_call_start', index: 0, id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', name: 'get_current_weather' });
    const args = events.filter((e) => e.type === 'tool_call_delta').map((e) => (e as { argumentsDelta: string }).argumentsDelta).join('');
    expect(JSON.parse(args)).toEqual({ location: 'Boston, MA' });
    expect(events.slice(-2)).toEqual([
      { type: 'tool_call_end', index: 0 },
      { type: 'finish', stopReason: 'tool_calls', usage: { inputTokens: 82, outputTokens: 18, cachedInputTokens: 64 } },
    ]);
  });

  it('decodes reasoning_content (OpenAI-compatible reasoning servers) as reasoning, with reasoning tokens', async () => {
    const events = await decode('reasoning-stream');
    expect(events.filter((e) => e.type === 'reasoning_delta').map((e) => (e as { text: string }).text).join('')).toBe('9.11 and 9.8: compare the tenths, 8 > 1.');
    expect(events.filter((e) => e.type === 'text_delta').map((e) => (e as { text: string }).text).join('')).toBe('9.8 is greater.');
    expect(events.at(-1)).toMatchObject({ type: 'finish', stopReason: 'stop', usage: { inputTokens: 18, outputTokens: 42, reasoningTokens: 30 } });
  });

  it('throws on an error payload inside the stream', async () => {
    await expect(decode('error-stream')).rejects.toThrow(/server had an error/);
  });

  it('re-encodes decoded events into chunks that decode to the same events', async () => {
    for (const name of ['text-stream', 'tool-call-stream']) {
      const events = await decode(name);
      const frames = await collect(openaiCodec.encodeStream(fromArray(events), { includeUsage: true }));
      const again = await collect(openaiCodec.decodeStream(parseSSE(fromArray(frames))));
      expect(withoutCreated(again)).toEqual(withoutCreated(events));
    }
  });

  it('pass-through tap: reads the usage chunk and holds it back only when the client did not ask for it', async () => {
    const messages = await collect(fixtureStream('text-stream'));
    const usageChunk = messages.at(-2)!;
    expect(openaiCodec.tapStreamMessage(usageChunk, false)).toEqual({ forward: false, usage: { inputTokens: 19, outputTokens: 10 } });
    expect(openaiCodec.tapStreamMessage(usageChunk, true).forward).toBe(true);
    expect(openaiCodec.tapStreamMessage(messages[1]!, false)).toEqual({ forward: true, content: true });
  });
});

const withoutCreated = (events: StreamEvent[]) => events.map((e) => (e.type === 'start' ? { ...e, created: undefined } : e));
