import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendGatewayResponse } from '../../src/http/send.js';
import type { GatewayResponse } from '../../src/pipeline/types.js';

/** The HTTP writer of whole answers, on a real port: straight to the raw response, and never leaving a client hanging. */
let app: FastifyInstance;
let url: string;
let firstSentBeforeTheRest: boolean | undefined;

const answer = (headers: Record<string, string>, body: GatewayResponse['body']) => ({ status: 200, headers, body }) as GatewayResponse;

beforeAll(async () => {
  app = Fastify();
  app.addHook('onRequest', async (_request, reply) => void reply.header('access-control-allow-origin', 'https://app.example'));
  app.post('/bytes', async (_request, reply) => sendGatewayResponse(reply, answer({ 'content-type': 'application/json' }, { kind: 'bytes', value: Buffer.from('{ "a" : 1 }') }), 'openai'));
  app.post('/json', async (_request, reply) => sendGatewayResponse(reply, answer({ 'content-type': 'application/json' }, { kind: 'json', value: { a: 'é' } }), 'openai'));
  // A header value node cannot send (a line break): the answer must become an error, not a silent hang.
  app.post('/bad-header', async (_request, reply) => sendGatewayResponse(reply, answer({ 'content-type': 'application/json', 'x-bad': 'a\nb' }, { kind: 'json', value: {} }), 'openai'));
  app.post('/stream', async (_request, reply) => {
    const raw = reply.raw;
    // The rest of this stream is in hand at once (a short answer, a replay): its second event is produced without
    // waiting on anything, as the settlement of a stream's end runs.
    async function* events(): AsyncGenerator<string> {
      yield 'data: 1\n\n';
      firstSentBeforeTheRest = raw.socket !== null && raw.socket.writableCorked === 0 && raw.socket.writableLength === 0;
      yield 'data: 2\n\n';
    }
    return sendGatewayResponse(reply, answer({ 'content-type': 'text/event-stream' }, { kind: 'sse', events: events() }), 'openai');
  });
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

describe('sendGatewayResponse (streams)', () => {
  it('hands the head and the first event to the socket before producing the rest of the stream', async () => {
    const res = await fetch(`${url}/stream`, { method: 'POST' });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(await res.text()).toBe('data: 1\n\ndata: 2\n\n');
    // Without the flush, node:http holds the first event (corked) until every microtask queued behind it has run.
    expect(firstSentBeforeTheRest).toBe(true);
  });
});
