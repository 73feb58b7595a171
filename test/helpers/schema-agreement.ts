import { expect } from 'vitest';
import type { z } from 'zod';

/**
 * For tests of a typed decoder that stands in for a zod schema on a hot path: payloads around a valid one, and the
 * check that decoder and schema accept the same ones and give the same value (member order included).
 */
const emoji = '\u{1F600}';
const odd: unknown[] = [
  undefined, null, true, false, 0, -0, -1, 1, 99, 100, 599, 600, 1.5, 2 ** 53, -(2 ** 53), 2 ** 31, '', 'x', 'chat', 'openai', 'x'.repeat(129), 'x'.repeat(257),
  emoji.repeat(128), emoji.repeat(129), emoji.repeat(256), emoji.repeat(257), 'x'.repeat(16_384), 'x'.repeat(16_385), emoji.repeat(16_384), emoji.repeat(16_385),
  [], ['a'], [''], [1], Array.from({ length: 64 }, () => 'p'), Array.from({ length: 65 }, () => 'p'), {}, { a: 'b' }, { a: 1 },
  { inputTokens: 1, outputTokens: 2 }, { inputTokens: 1, outputTokens: 2, cachedInputTokens: 1, extra: true }, { inputTokens: -1, outputTokens: 2 },
  { inputTokens: 1, outputTokens: 2, cachedInputTokens: 1.5 }, { status: 500, message: 'boom' }, { status: 1.5, message: 'x' }, { status: 1 },
];

/** The payload with each member set to each odd value (and to each of `extra`; removed for undefined), and with an unknown member. */
export function variants(base: Record<string, unknown>, extra: unknown[] = []): unknown[] {
  const out: unknown[] = [base, { ...base, unknown_member: 1 }, JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(base).slice(1)}`), null, [], 'text', 42];
  for (const key of Object.keys(base)) {
    for (const value of [...odd, ...extra]) {
      const copy: Record<string, unknown> = { ...base };
      if (value === undefined) delete copy[key];
      else copy[key] = value;
      out.push(copy);
    }
  }
  return out;
}

export function agree(schema: z.ZodType, decode: (value: unknown) => unknown, payloads: unknown[]): number {
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

