import { describe, expect, it } from 'vitest';
import type { CanonicalResponse } from '../../../../src/formats/canonical.js';
import { UpstreamError } from '../../../../src/errors/index.js';
import { geminiCodec } from '../../../../src/formats/gemini/index.js';
import { fixture } from './fixtures.js';

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const candidateWith = (parts: unknown[], finishReason: string) => ({ candidates: [{ content: { role: 'model', parts }, finishReason, index: 0 }] });

describe('Gemini response → canonical', () => {
  it('reads text, model version, response id and usage (cached and thought tokens included)', () => {
    expect(geminiCodec.responseToCanonical(fixture('text-response'))).toEqual({
      id: 'p1BbaOvZBZK0nvgPxuWz4Qc',
      model: 'gemini-2.5-flash',
      content: [{ type: 'text', text: 'The capital of France is Paris.' }],
      stopReason: 'stop',
      usage: { inputTokens: 1250, outputTokens: 52, cachedInputTokens: 1024, reasoningTokens: 44 },
    });
  });

  it('reads thought parts as reasoning, before the answer', () => {
    const res = geminiCodec.responseToCanonical(fixture('thought-response'));
    expect(res.content.map((part) => part.type)).toEqual(['reasoning', 'text']);
    expect(res.content[1]).toEqual({ type: 'text', text: '9.9 is larger than 9.11.' });
    expect(res.usage).toEqual({ inputTokens: 12, outputTokens: 309, reasoningTokens: 300 });
  });

  it('reports tool_calls for function calls although Gemini says STOP, with ids unique to the response', () => {
    const res = geminiCodec.responseToCanonical(fixture('function-call-response'));
    expect(res.stopReason).toBe('tool_calls');
    expect(res.content).toEqual([
      { type: 'tool_call', id: 'call_xUNcaJXzKZ6c1dkPqJ3X8Ac_0', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      { type: 'tool_call', id: 'call_xUNcaJXzKZ6c1dkPqJ3X8Ac_1', name: 'get_weather', arguments: '{"city":"London","unit":"celsius"}' },
    ]);
    for (const part of res.content) expect((part as { id: string }).id.length).toBeLessThanOrEqual(40);
  });

  it('keeps the id Gemini gives a function call', () => {
    const res = geminiCodec.responseToCanonical(candidateWith([{ functionCall: { id: 'fc-7', name: 'f', args: {} } }], 'STOP'));
    expect(res.content).toEqual([{ type: 'tool_call', id: 'fc-7', name: 'f', arguments: '{}' }]);
  });

  it('answers a blocked prompt (no candidates, promptFeedback.blockReason) as an empty content_filter response', () => {
    const res = geminiCodec.responseToCanonical(fixture('blocked-prompt'));
    expect(res).toMatchObject({ content: [], stopReason: 'content_filter', usage: { inputTokens: 31, outputTokens: 0 } });
  });

  it.each([
    ['STOP', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['BLOCKLIST', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['SPII', 'content_filter'],
    ['MALFORMED_FUNCTION_CALL', 'error'],
    ['OTHER', 'error'],
    ['FINISH_REASON_UNSPECIFIED', 'stop'],
  ])('maps finishReason %s to %s', (finishReason, stopReason) => {
    expect(geminiCodec.responseToCanonical(candidateWith([{ text: 'x' }], finishReason)).stopReason).toBe(stopReason);
  });

  it('keeps a content filter stop even when the candidate holds a function call', () => {
    expect(geminiCodec.responseToCanonical(candidateWith([{ functionCall: { name: 'f', args: {} } }], 'SAFETY')).stopReason).toBe('content_filter');
  });

  it('counts tool-use prompt tokens as input', () => {
    const res = geminiCodec.responseToCanonical({ ...candidateWith([{ text: 'x' }], 'STOP'), usageMetadata: { promptTokenCount: 10, toolUsePromptTokenCount: 5, candidatesTokenCount: 2 } });
    expect(res.usage).toEqual({ inputTokens: 15, outputTokens: 2 });
  });

  it('throws UpstreamError on an error body (retryable by its code) and on a body that is no response', () => {
    const overloaded = thrownBy(() => geminiCodec.responseToCanonical({ error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } }));
    expect(overloaded).toBeInstanceOf(UpstreamError);
    expect((overloaded as UpstreamError).retryable).toBe(true);
    const invalidKey = thrownBy(() => geminiCodec.responseToCanonical({ error: { code: 400, message: 'API key not valid.', status: 'INVALID_ARGUMENT' } }));
    expect(invalidKey).toMatchObject({ retryable: false, status: 400 });
    expect(() => geminiCodec.responseToCanonical({ candidates: 'none' })).toThrow(/malformed.*candidates/);
    expect(() => geminiCodec.responseToCanonical({ modelVersion: 'gemini-2.5-flash' })).toThrow(UpstreamError);
  });

  it('tolerates fields it does not know', () => {
    const body = { ...fixture('text-response'), sdkHttpResponse: { headers: {} }, automaticFunctionCallingHistory: [] };
    expect(geminiCodec.responseToCanonical(body).content).toEqual([{ type: 'text', text: 'The capital of France is Paris.' }]);
  });
});

describe('canonical response → Gemini', () => {
  const canonical: CanonicalResponse = {
    id: 'chatcmpl-123',
    model: 'gpt-4o',
    content: [
      { type: 'reasoning', text: 'Think first.' },
      { type: 'text', text: 'Calling the tool.' },
      { type: 'tool_call', id: 'call_abc', name: 'get_weather', arguments: '{"city":"Paris"}' },
    ],
    stopReason: 'tool_calls',
    usage: { inputTokens: 100, outputTokens: 30, cachedInputTokens: 40, reasoningTokens: 10 },
  };

  it('builds a GenerateContentResponse with one model candidate, STOP for tool calls and usageMetadata', () => {
    expect(geminiCodec.responseFromCanonical(canonical)).toEqual({
      candidates: [{
        content: {
          role: 'model',
          parts: [{ text: 'Think first.', thought: true }, { text: 'Calling the tool.' }, { functionCall: { id: 'call_abc', name: 'get_weather', args: { city: 'Paris' } } }],
        },
        finishReason: 'STOP',
        index: 0,
      }],
      usageMetadata: { promptTokenCount: 100, candidatesTokenCount: 20, cachedContentTokenCount: 40, thoughtsTokenCount: 10, totalTokenCount: 130 },
      modelVersion: 'gpt-4o',
      responseId: 'chatcmpl-123',
    });
  });

  it.each([['length', 'MAX_TOKENS'], ['content_filter', 'SAFETY'], ['error', 'OTHER'], ['stop', 'STOP']] as const)('maps stop reason %s to %s', (stopReason, finishReason) => {
    const body = geminiCodec.responseFromCanonical({ ...canonical, stopReason }) as { candidates: Array<{ finishReason: string }> };
    expect(body.candidates[0]!.finishReason).toBe(finishReason);
  });

  it('wraps tool arguments that are not a JSON object instead of losing them', () => {
    const body = geminiCodec.responseFromCanonical({ ...canonical, content: [{ type: 'tool_call', id: 'c', name: 'f', arguments: '{"unterminated' }] }) as { candidates: Array<{ content: { parts: unknown[] } }> };
    expect(body.candidates[0]!.content.parts).toEqual([{ functionCall: { id: 'c', name: 'f', args: { _raw: '{"unterminated' } } }]);
  });

  it('reads back to the same canonical response, tool call ids included', () => {
    expect(geminiCodec.responseToCanonical(geminiCodec.responseFromCanonical(canonical))).toEqual(canonical);
  });
});
