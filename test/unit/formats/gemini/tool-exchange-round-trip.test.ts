import { describe, expect, it } from 'vitest';
import type { CanonicalMessage, CanonicalRequest, ToolCallPart, ToolResultPart } from '../../../../src/formats/canonical.js';
import { geminiCodec } from '../../../../src/formats/gemini/index.js';
import { fixture } from './fixtures.js';
import { weatherConversation } from './tool-conversation.js';

const canonicalRequest = (messages: CanonicalMessage[]): CanonicalRequest => ({ model: 'gpt-4o', messages, stream: false });
const throughGemini = (req: CanonicalRequest) => geminiCodec.requestToCanonical(geminiCodec.requestFromCanonical(req, 'gemini-2.5-flash').body, { model: 'gemini-2.5-flash' });

/** Every tool result answers a call made earlier with the same name, and every call is answered exactly once. */
function pairs(messages: CanonicalMessage[]): Array<[string, string]> {
  const calls = new Map<string, ToolCallPart>();
  const answered: Array<[string, string]> = [];
  for (const part of messages.flatMap((message) => message.content)) {
    if (part.type === 'tool_call') calls.set(part.id, part);
    if (part.type === 'tool_result') {
      const call = calls.get(part.toolCallId);
      if (!call) throw new Error(`result ${part.toolCallId} answers no call`);
      answered.push([call.arguments, (part.content[0] as { text: string }).text]);
      calls.delete(part.toolCallId);
    }
  }
  expect([...calls.keys()]).toEqual([]);
  return answered;
}

describe('multi-turn tool exchange through Gemini', () => {
  it('canonical → Gemini → canonical keeps every result paired with a call of its name', () => {
    const back = throughGemini(canonicalRequest(weatherConversation));
    expect(back.messages.map((message) => message.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    // Gemini pairs by name and order, so results answer the calls of their name in the order they come.
    expect(pairs(back.messages)).toEqual([
      ['{"city":"Paris"}', '{"city":"Oslo","t":4}'],
      ['{"city":"Oslo"}', '{"city":"Paris","t":18}'],
      ['{"tz":"Asia/Tokyo"}', '{"result":"21:04"}'],
    ]);
    const names = back.messages.flatMap((m) => m.content).filter((p): p is ToolResultPart => p.type === 'tool_result').map((p) => p.name);
    expect(names).toEqual(['get_weather', 'get_weather', 'get_time']);
  });

  it('is stable: a second pass through Gemini gives the same canonical request', () => {
    const once = throughGemini(canonicalRequest(weatherConversation));
    expect(throughGemini(once).messages).toEqual(once.messages);
  });

  it('Gemini → canonical → Gemini gives back the same contents, with calls marked for signature-less replay', () => {
    const original = fixture<{ contents: Array<{ role: string; parts: Array<Record<string, unknown>> }> }>('tool-exchange-request');
    const canonical = geminiCodec.requestToCanonical(original, { model: 'gemini-2.5-flash' });
    const { body } = geminiCodec.requestFromCanonical(canonical, 'gemini-2.5-flash');
    const expected = original.contents.map((content) => ({
      role: content.role,
      parts: content.parts.map(({ thoughtSignature: _signature, ...part }, i) =>
        (content.role === 'model' && i === 0 && part.functionCall ? { ...part, thoughtSignature: 'skip_thought_signature_validator' } : part)),
    }));
    expect(body.contents).toEqual(expected);
  });

  it('ids a Gemini response gave a client find their function names again on the next turn', () => {
    const response = geminiCodec.responseToCanonical(fixture('function-call-response'));
    const calls = response.content.filter((part): part is ToolCallPart => part.type === 'tool_call');
    const nextTurn = canonicalRequest([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and London?' }] },
      { role: 'assistant', content: calls },
      { role: 'user', content: calls.map((call, i) => ({ type: 'tool_result' as const, toolCallId: call.id, content: [{ type: 'text' as const, text: `sunny ${i}` }] })) },
    ]);
    const { body } = geminiCodec.requestFromCanonical(nextTurn, 'gemini-2.5-flash');
    expect((body.contents as Array<{ parts: unknown[] }>)[2]!.parts).toEqual([
      { functionResponse: { name: 'get_weather', response: { result: 'sunny 0' } } },
      { functionResponse: { name: 'get_weather', response: { result: 'sunny 1' } } },
    ]);
  });
});
