import { describe, expect, it } from 'vitest';
import { keepJsonText } from '../../../src/core/index.js';
import { encodeRequestPayload } from '../../../src/mesh/forward-client.js';
import { decodeFrame, FrameType, type ForwardRequestFrame } from '../../../src/mesh/forward-frames.js';
import { takeRoutingOptions } from '../../../src/pipeline/routing-options.js';
import { createSanitizer, sanitizationConfigSchema } from '../../../src/sanitize/index.js';

const KEY = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h';
const decoder = new TextDecoder();

function frameOf(body: unknown): ForwardRequestFrame {
  return { id: 'r1', format: 'openai', operation: 'chat', model: 'gpt-4o', stream: false, body, hop: 1, visited: ['peer-a'], deadline: 1_790_000_000_000 };
}

/** The frame a serving node reads from this payload. */
function served(payload: Uint8Array) {
  const frame = decodeFrame(Uint8Array.of(FrameType.request, ...payload));
  expect(frame.type).toBe('request');
  return frame.type === 'request' ? frame.value : undefined;
}

/** A body as the HTTP edge parses it: the value, with the text it was read from kept beside it. */
function parsed(text: string): Record<string, unknown> {
  const value = JSON.parse(text) as Record<string, unknown>;
  keepJsonText(value, text);
  return value;
}

describe('the REQUEST payload of a forward', () => {
  it("carries the client's own JSON text for a body nothing changed, and decodes to the same frame", () => {
    const text = '{ "model" : "gpt-4o",\n  "messages": [ { "role": "user", "content": "caf\\u00e9 1.0" } ], "temperature": 1.0 }';
    const frame = frameOf(parsed(text));
    const payload = encodeRequestPayload(frame);
    expect(decoder.decode(payload)).toContain(`"body":${text}`);
    expect(served(payload)).toEqual(frame);
  });

  it('encodes a body that has no text of its own from its value, as before', () => {
    const frame = frameOf({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(decoder.decode(encodeRequestPayload(frame))).toBe(JSON.stringify(frame));
  });

  it("never sends the client's text once the sanitizer redacted the body or the routing options were taken from it", () => {
    const sanitizer = createSanitizer(sanitizationConfigSchema.parse({}));
    const withKey = parsed(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `my key is ${KEY}` }] }));
    const redacted = frameOf(sanitizer.scanRequest(withKey).body);
    const sent = decoder.decode(encodeRequestPayload(redacted));
    expect(sent).not.toContain(KEY);
    expect(sent).toContain('[REDACTED:OPENAI_API_KEY]');

    const clean = parsed('{"model":"gpt-4o","messages":[{"role":"user","content":"nothing secret"}]}');
    expect(sanitizer.scanRequest(clean).body).toBe(clean); // unchanged: the text is still the body's

    const withOptions = parsed('{"model":"gpt-4o","meshgate":{"profile":"cheap"},"messages":[]}');
    const req = takeRoutingOptions({ body: withOptions } as Parameters<typeof takeRoutingOptions>[0]);
    expect(decoder.decode(encodeRequestPayload(frameOf(req.body)))).not.toContain('meshgate');
  });

  it('never sends a text with a duplicate key: JSON.parse keeps the last, so the first could smuggle a secret past the sanitizer', () => {
    const sanitizer = createSanitizer(sanitizationConfigSchema.parse({}));
    const smuggling = parsed(`{"model":"gpt-4o","messages":[{"role":"user","content":"my key is ${KEY}"}],"messages":[{"role":"user","content":"hi"}]}`);
    // The sanitizer sees only the last `messages` (clean), so the body is unchanged...
    expect(sanitizer.scanRequest(smuggling).body).toBe(smuggling);
    // ...but what goes to the peer is encoded from that value, not the text holding the key.
    const sent = decoder.decode(encodeRequestPayload(frameOf(smuggling)));
    expect(sent).not.toContain(KEY);
    expect(served(encodeRequestPayload(frameOf(smuggling)))!.body).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    // Nested duplicates too; and colons, quotes and backslashes inside strings are not members.
    const nested = parsed('{"model":"gpt-4o","messages":[{"role":"user","content":"a","content":"b"}]}');
    expect(decoder.decode(encodeRequestPayload(frameOf(nested)))).not.toContain('"content":"a"');
    // A string ending in an escaped backslash ends at the quote after it: the duplicate that follows is still seen.
    const afterBackslash = parsed('{"model":"gpt-4o","messages":[{"role":"user","content":"a\\\\","content":"b\\\\\\"c"}]}');
    expect(decoder.decode(encodeRequestPayload(frameOf(afterBackslash)))).not.toContain('"content":"a');
    const tricky = '{"model":"gpt-4o","messages":[{"role":"user","content":"a: \\"b: c\\" \\\\: {\\"d\\":1}"}]}';
    expect(decoder.decode(encodeRequestPayload(frameOf(parsed(tricky))))).toContain(`"body":${tricky}`);
    const endsInBackslash = '{"model":"gpt-4o","messages":[{"role":"user","content":"dir C:\\\\"}],"temperature":1}';
    expect(decoder.decode(encodeRequestPayload(frameOf(parsed(endsInBackslash))))).toContain(`"body":${endsInBackslash}`);
  });
});

