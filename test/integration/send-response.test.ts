import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendGatewayResponse } from '../../src/http/send.js';
import type { GatewayResponse } from '../../src/pipeline/types.js';

/** The HTTP writer of whole answers, on a real port: straight to the raw response, and never leaving a client hanging. */
let app: FastifyInstance;
let url: string;

const answer = (headers: Record<string, string>, body: GatewayResponse['body']) => ({ status: 200, headers, body }) as GatewayResponse;

beforeAll(async () => {
  app = Fastify();
  app.addHook('onRequest', async (_request, reply) => void reply.header('access-control-allow-origin', 'https://app.example'));
  app.post('/bytes', async (_request, reply) => sendGatewayResponse(reply, answer({ 'content-type': 'application/json' }, { kind: 'bytes', value: Buffer.from('{ "a" : 1 }') }), 'openai'));
  app.post('/json', async (_request, reply) => sendGatewayResponse(reply, answer({ 'content-type': 'application/json' }, { kind: 'json', value: { a: 'é' } }), 'openai'));
  // A header value node cannot send (a line break): the answer must become an error, not a silent hang.
  app.post('/bad-header', async (_request, reply) => sendGatewayResponse(reply, answer({ 'content-type': 'application/json', 'x-bad': 'a\nb' }, { kind: 'json', value: {} }), 'openai'));
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app?.close();
});

describe('sendGatewayResponse (whole answers)', () => {
  it('writes bytes as given, with their length and the headers hooks set', async () => {
    const res = await fetch(`${url}/bytes`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('11');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(await res.text()).toBe('{ "a" : 1 }');
  });

  it('serialises JSON once, its length counted in bytes', async () => {
    const res = await fetch(`${url}/json`, { method: 'POST' });
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength('{"a":"é"}')));
    expect(await res.json()).toEqual({ a: 'é' });
  });

  it('answers 500 when a header cannot be sent, instead of leaving the client without a response', async () => {
    const res = await fetch(`${url}/bad-header`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(500);
  });
});
