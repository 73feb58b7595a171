import { describe, expect, it } from 'vitest';
import { isPlainChatRequest, openaiChatRequestSchema } from '../../../../src/formats/openai/request.js';
import { openaiRequestToCanonical } from '../../../../src/formats/openai/request.js';

const base = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };

/** Values of every kind, the right ones and the wrong ones, for any field. */
const VALUES: unknown[] = [
  undefined, null, true, false, 0, 1, 2, 3, -1, 0.5, 1.5, 2.5, 1e300, 2 ** 53, Number.NaN, Infinity, '', 'x', 'stop',
  [], ['a'], ['a', 1], [1], {}, { type: 'text' }, { type: 'json_object' }, { name: 'f' },
];
const FIELDS = [
  'model', 'messages', 'stream', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop', 'seed', 'presence_penalty',
  'frequency_penalty', 'n', 'user', 'parallel_tool_calls', 'tools', 'tool_choice', 'functions', 'function_call', 'response_format',
  'logprobs', 'metadata', 'reasoning_effort',
];
const MESSAGES: unknown[] = [
  { role: 'user', content: 'hi' }, { role: 'user', content: '' }, { role: 'user', content: null }, { role: 'user' },
  { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b', cache_control: { type: 'ephemeral' } }] },
  { role: 'user', content: [{ type: 'text' }] }, { role: 'user', content: [{ type: 'text', text: 1 }] }, { role: 'user', content: [] },
  { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }, { role: 'user', content: ['a'] },
  { role: 'user', content: 1 }, { role: 'user', content: {} }, { role: 'user', content: 'hi', name: 'ann' },
  { role: 'system', content: 'be brief' }, { role: 'developer', content: [{ type: 'text', text: 'rules' }] },
  { role: 'assistant', content: 'sure' }, { role: 'assistant', content: null }, { role: 'assistant', content: 'x', refusal: null },
  { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
  { role: 'assistant', content: 'x', tool_calls: 'no' }, { role: 'tool', content: 'r', tool_call_id: 'c1' }, { role: 'function', content: 'r', name: 'f' },
  { role: 'robot', content: 'hi' }, { content: 'hi' }, null, 'hi', ['user', 'hi'],
];

/** Every body the fast check accepts must be one the schema accepts, and parsed into an equal value. */
function holdsAgainstSchema(body: unknown): boolean {
  const fast = isPlainChatRequest(body);
  const parsed = openaiChatRequestSchema.safeParse(body);
  if (fast) {
    expect(parsed.success, JSON.stringify(body)).toBe(true);
    expect(parsed.data).toStrictEqual(body);
  }
  return fast;
}

describe('isPlainChatRequest', () => {
  it('is tried against every field the schema declares (a field added to the schema must be added here)', () => {
    expect(Object.keys(openaiChatRequestSchema.shape).filter((key) => !FIELDS.includes(key))).toEqual([]);
  });

  it('takes the common plain request (the SDKs\' and the bench\'s) and reads it as the schema would', () => {
    expect(holdsAgainstSchema(base)).toBe(true);
    const full = { ...base, stream: false, max_tokens: 16, temperature: 0.2, top_p: 1, stop: ['\n'], seed: 7, presence_penalty: 0, frequency_penalty: -0.5, n: 1, user: 'u', parallel_tool_calls: true, logprobs: true };
    expect(holdsAgainstSchema(full)).toBe(true);
    expect(openaiRequestToCanonical(full)).toStrictEqual(openaiRequestToCanonical({ ...full, tools: undefined, tool_choice: undefined }));
  });

  it('never accepts a body the schema refuses, nor one the schema would read differently (every field × every kind of value)', () => {
    let accepted = 0;
    for (const field of FIELDS) {
      for (const value of VALUES) if (holdsAgainstSchema({ ...base, [field]: value })) accepted++;
    }
    for (const message of MESSAGES) {
      if (holdsAgainstSchema({ ...base, messages: [message] })) accepted++;
      if (holdsAgainstSchema({ ...base, messages: [{ role: 'system', content: 's' }, message, { role: 'user', content: 'u' }] })) accepted++;
    }
    for (const body of [null, [], 'x', 1, {}, { model: 'm' }, { messages: base.messages }, { model: '', messages: base.messages }, { model: 'm', messages: [] }]) {
      expect(holdsAgainstSchema(body)).toBe(false);
    }
    // The check is not vacuous: many variants take the fast path.
    expect(accepted).toBeGreaterThan(100);
  });

  it('leaves what it does not look into to the schema, which answers with its own error', () => {
    for (const field of ['tools', 'tool_choice', 'functions', 'function_call', 'response_format']) expect(isPlainChatRequest({ ...base, [field]: null })).toBe(false);
    expect(() => openaiRequestToCanonical({ ...base, temperature: 3 })).toThrow(/temperature/);
    expect(() => openaiRequestToCanonical({ ...base, messages: [{ role: 'robot', content: 'x' }] })).toThrow();
  });

  it('gives the canonical request a stop list of its own (the body it came from is sent on as it is)', () => {
    const body = { ...base, stop: ['a'] };
    const canonical = openaiRequestToCanonical(body);
    expect(canonical.stop).toEqual(['a']);
    expect(canonical.stop).not.toBe(body.stop);
  });
});
