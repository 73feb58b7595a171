import { describe, expect, it } from 'vitest';
import { forwardHeadSchema, forwardRequestSchema, forwardTrailerSchema } from '../../../src/mesh/forward-frames.js';
import { decodeHeadPayload, decodeRequestPayload, decodeTrailerPayload } from '../../../src/mesh/frame-payloads.js';
import { agree, variants } from '../../helpers/schema-agreement.js';

/**
 * The typed decoders of the frames of every forward (src/mesh/frame-payloads.ts) against the zod schemas that define
 * those frames (and generate protocol/schemas): over valid payloads and every member removed, replaced by values of
 * the wrong type or out of range, or joined by a member the schema does not know, both must accept the same payloads
 * and give the same value, member order included.
 */
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
