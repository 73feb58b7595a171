import { describe, expect, it } from 'vitest';
import { uncacheable } from '../../../src/cache/cache-key.js';
import type { GatewayRequest } from '../../../src/pipeline/types.js';

const request = (body: Record<string, unknown>): GatewayRequest => ({
  id: 'req_1', format: 'responses', operation: 'chat', body, model: 'gpt-4o', stream: false, signal: new AbortController().signal,
  principal: { kind: 'public' }, receivedAt: 0, hop: { count: 0, visited: [] },
});

describe('Responses requests and the response cache', () => {
  it('leaves out a request that stores its response (a replay would repeat the stored id) and takes one with store: false', () => {
    expect(uncacheable(request({ model: 'gpt-4o', input: 'hi' }))).toMatch(/stores its response/);
    expect(uncacheable(request({ model: 'gpt-4o', input: 'hi', store: true }))).toMatch(/stores its response/);
    expect(uncacheable(request({ model: 'gpt-4o', input: 'hi', store: false }))).toBeUndefined();
  });
});
