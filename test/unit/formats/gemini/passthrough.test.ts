import { describe, expect, it } from 'vitest';
import { geminiCodec } from '../../../../src/formats/gemini/index.js';
import { collect, fixture, fixtureStream } from './fixtures.js';

describe('Gemini pass-through', () => {
  it('sends the body unchanged (the model is in the URL) and always has stream usage', () => {
    const body = { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], tools: [{ googleSearch: {} }], safetySettings: [] };
    const pass = geminiCodec.passthroughRequest(body, 'gemini-2.5-pro', true);
    expect(pass.body).toBe(body);
    expect(pass.body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], tools: [{ googleSearch: {} }], safetySettings: [] });
    expect(pass.clientWantsStreamUsage).toBe(true);
  });

  it('taps the usage each chunk reports, content from text and function calls, and forwards everything', async () => {
    const taps = (await collect(fixtureStream('function-call-stream'))).map((message) => geminiCodec.tapStreamMessage(message, true));
    // The first chunk reports no output count yet: none is claimed, so a broken stream's output gets estimated.
    expect(taps).toEqual([
      { forward: true, usage: { inputTokens: 97 }, content: true },
      { forward: true, usage: { inputTokens: 97, outputTokens: 41 }, content: true },
    ]);
  });

  it('does not count an empty text part as content', async () => {
    const taps = (await collect(fixtureStream('thought-stream'))).map((message) => geminiCodec.tapStreamMessage(message, true));
    expect(taps.map((tap) => tap.content ?? false)).toEqual([true, true, false]);
  });

  it('taps an error payload as an error and forwards it', async () => {
    const taps = (await collect(fixtureStream('error-stream'))).map((message) => geminiCodec.tapStreamMessage(message, true));
    expect(taps[1]).toEqual({ forward: true, error: 'UNAVAILABLE: The model is overloaded. Please try again later.' });
  });

  it('forwards a message it cannot read without failing', () => {
    expect(geminiCodec.tapStreamMessage({ data: 'not json', event: undefined, id: undefined }, true)).toEqual({ forward: true });
    expect(geminiCodec.tapStreamMessage({ data: '{"candidates":"odd"}', event: undefined, id: undefined }, true)).toEqual({ forward: true });
  });

  it('reads the usage of a whole response', () => {
    expect(geminiCodec.usageFromResponse(fixture('text-response'))).toEqual({ inputTokens: 1250, outputTokens: 52, cachedInputTokens: 1024, reasoningTokens: 44 });
    expect(geminiCodec.usageFromResponse({ candidates: [] })).toBeUndefined();
  });
});
