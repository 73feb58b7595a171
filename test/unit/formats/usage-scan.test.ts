import { describe, expect, it } from 'vitest';
import { NOT_SCANNED, scanTopLevelObject } from '../../../src/formats/usage-scan.js';

const scan = (text: string, field = 'usage') => scanTopLevelObject(Buffer.from(text), field);

describe('scanTopLevelObject (usage of a pass-through answer without parsing it whole)', () => {
  it('reads the field when it is last, pretty-printed or not', () => {
    expect(scan('{"id":"x","usage":{"prompt_tokens":3,"completion_tokens":4}}')).toEqual({ prompt_tokens: 3, completion_tokens: 4 });
    expect(scan('{\n  "id": "x",\n  "usage" :  {\n    "prompt_tokens": 3\n  }\n}\n')).toEqual({ prompt_tokens: 3 });
  });

  it('reads it when other fields follow (Gemini: usageMetadata, then modelVersion and responseId)', () => {
    expect(scan('{"candidates":[{"x":[1,{"y":"}"}]}],"usageMetadata":{"promptTokenCount":2},"modelVersion":"m","responseId":"r"}', 'usageMetadata')).toEqual({ promptTokenCount: 2 });
  });

  it('reads a field with nested objects and strings holding braces and escaped quotes', () => {
    expect(scan('{"usage":{"details":{"note":"a } \\" { b"},"n":[1,2]},"z":"\\\\"}')).toEqual({ details: { note: 'a } " { b' }, n: [1, 2] });
  });

  it('does not take a nested field of the same name for the top-level one', () => {
    expect(scan('{"choices":[{"extra":{"usage":{"prompt_tokens":500}}}]}')).toBe(NOT_SCANNED);
    // A top-level one before a nested one is still found.
    expect(scan('{"usage":{"prompt_tokens":1},"choices":[{"extra":{"usage":{"prompt_tokens":500}}}]}')).toEqual({ prompt_tokens: 1 });
  });

  it('ignores the name inside a string', () => {
    expect(scan('{"content":"say \\"usage\\": {\\"prompt_tokens\\": 9}"}')).toBe(NOT_SCANNED);
    expect(scan('{"content":"x \\"usage": {"prompt_tokens": 9}}')).toBe(NOT_SCANNED);
  });

  it('leaves to a full parse what it cannot read: absent, null, not an object, cut short, not JSON', () => {
    expect(scan('{"id":"x"}')).toBe(NOT_SCANNED);
    expect(scan('{"usage":null}')).toBe(NOT_SCANNED);
    expect(scan('{"usage":[1]}')).toBe(NOT_SCANNED);
    expect(scan('{"id":"x","usage":{"prompt_tokens":3}')).toBe(NOT_SCANNED);
    expect(scan('{"usage":{"prompt_tokens":3}} trailing')).toBe(NOT_SCANNED);
    expect(scan('<html>"usage":{"prompt_tokens":3}}</html>')).toBe(NOT_SCANNED);
    expect(scan('')).toBe(NOT_SCANNED);
  });

  it('skips a byte-order mark', () => {
    expect(scanTopLevelObject(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"usage":{"a":1}}')]), 'usage')).toEqual({ a: 1 });
  });

  it('reads a Buffer that is a slice of a larger one', () => {
    const whole = Buffer.from('xxxx{"usage":{"a":1}}yyyy');
    expect(scanTopLevelObject(whole.subarray(4, whole.length - 4), 'usage')).toEqual({ a: 1 });
  });
});
