import { describe, expect, it } from 'vitest';
import type { CanonicalRequest } from '../../../src/formats/canonical.js';
import type { GatewayRequest } from '../../../src/pipeline/types.js';
import { needsOf } from '../../../src/pipeline/routing-options.js';

describe('needsOf', () => {
  it('gives the same keys in the same order whether or not the request sets an output limit (one shape for the filter layer)', () => {
    const req = { operation: 'chat' } as GatewayRequest;
    const canonical = (maxTokens?: number) => ({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], maxTokens }) as unknown as CanonicalRequest;
    const limited = needsOf(req, canonical(64), { inputTokens: 10, maxOutputTokens: 64 });
    const unlimited = needsOf(req, canonical(), { inputTokens: 10, maxOutputTokens: 4096 });
    expect(limited).toEqual({ operation: 'chat', inputTokens: 10, maxOutputTokens: 64, capabilities: [] });
    expect(unlimited.maxOutputTokens).toBeUndefined();
    expect(Object.keys(unlimited)).toEqual(Object.keys(limited));
    expect(Object.keys(needsOf(req, undefined, { inputTokens: 10, maxOutputTokens: 0 }))).toEqual(Object.keys(limited));
  });
});
