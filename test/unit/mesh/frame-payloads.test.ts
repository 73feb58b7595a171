import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { forwardHeadSchema, forwardRequestSchema, forwardTrailerSchema } from '../../../src/mesh/forward-frames.js';
import { decodeHeadPayload, decodeRequestPayload, decodeTrailerPayload } from '../../../src/mesh/frame-payloads.js';

/**
 * The typed decoders of the frames of every forward (src/mesh/frame-payloads.ts) against the zod schemas that define
 * those frames (and generate protocol/schemas): over valid payloads and every member removed, replaced by values of
 * the wrong type or out of range, or joined by a member the schema does not know, both must accept the same payloads
 * and give the same value, member order included.
 */
const emoji = '\u{1F600}';
const odd: unknown[] = [
  undefined, null, true, false, 0, -0, -1, 1, 99, 100, 599, 600, 1.5, 2 ** 53, -(2 ** 53), 2 ** 31, '', 'x', 'chat', 'openai', 'x'.repeat(129), 'x'.repeat(257),
  emoji.repeat(128), emoji.repeat(129), emoji.repeat(256), emoji.repeat(257), 'x'.repeat(16_384), 'x'.repeat(16_385), emoji.repeat(16_384), emoji.repeat(16_385),
  [], ['a'], [''], [1], Array.from({ length: 64 }, () => 'p'), Array.from({ length: 65 }, () => 'p'), {}, { a: 'b' }, { a: 1 },
  { inputTokens: 1, outputTokens: 2 }, { inputTokens: 1, outputTokens: 2, cachedInputTokens: 1, extra: true }, { inputTokens: -1, outputTokens: 2 },
  { inputTokens: 1, outputTokens: 2, cachedInputTokens: 1.5 }, { status: 500, message: 'boom' }, { status: 1.5, message: 'x' }, { status: 1 },
];

/** The payload with `key` set to each odd value (removed for undefined), and with an unknown member. */
function variants(base: Record<string, unknown>): unknown[] {
  const out: unknown[] = [base, { ...base, unknown_member: 1 }, JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(base).slice(1)}`), null, [], 'text', 42];
  for (const key of Object.keys(base)) {
    for (const value of odd) {
      const copy: Record<string, unknown> = { ...base };
      if (value === undefined) delete copy[key];
      else copy[key] = value;
      out.push(copy);
    }
  }
  return out;
}

function agree(schema: z.ZodType, decode: (value: unknown) => unknown, payloads: unknown[]): number {
  let accepted = 0;
  for (const payload of payloads) {
    const expected = schema.safeParse(payload);
    const actual = decode(payload);
    expect(actual !== undefined, JSON.stringify(payload)?.slice(0, 200)).toBe(expected.success);
    if (expected.success) {
      accepted++;
      expect(actual).toStrictEqual(expected.data);
      expect(JSON.stringify(actual)).toBe(JSON.stringify(expected.data));
    }
  }
  return accepted;
}

describe('typed frame decoders agree with the frame schemas', () => {
  it('REQUEST', () => {
    const base = { id: 'r1', format: 'anthropic', operation: 'chat', model: 'm', stream: false, body: { a: 1 }, hop: 1, visited: ['peer-a'], deadline: 1_700_000_000_000 };
    const payloads = [...variants(base), ...variants({ ...base, principal: 'tok_1', body: null, format: 'responses', operation: 'count_tokens', stream: true })];
    expect(agree(forwardRequestSchema, decodeRequestPayload, payloads)).toBeGreaterThan(20);
    // The body is passed on as it came (the serving node's pipeline validates it in its own format).
    const body = { messages: [{ role: 'user', content: 'hi' }] };
    expect(decodeRequestPayload({ ...base, body })!.body).toBe(body);
  });

  it('HEAD', () => {
    const payloads = [
      ...variants({ status: 200, headers: { 'content-type': 'application/json', 'x-request-id': 'abc' } }),
      { status: 200, headers: { a: 1 } }, { status: 200, headers: [] }, JSON.parse('{"status":200,"headers":{"__proto__":"x","a":"b"}}'),
    ];
    expect(agree(forwardHeadSchema, decodeHeadPayload, payloads)).toBeGreaterThan(5);
  });

  it('TRAILER', () => {
    const base = { usage: { inputTokens: 10, outputTokens: 20, cachedInputTokens: 3 }, provider: 'mock', model: 'gpt', error: { status: 500, message: 'x' }, receipt: 'a.b.c' };
    const payloads = [...variants(base), ...variants({ usage: { inputTokens: 1, outputTokens: 1 } }), {}, { future_member: { a: 1 } }, { usage: { inputTokens: 1, outputTokens: 1, future: 1 } }];
    expect(agree(forwardTrailerSchema, decodeTrailerPayload, payloads)).toBeGreaterThan(50);
  });
});
