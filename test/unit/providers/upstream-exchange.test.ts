import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exchange, ExchangeDeadline } from '../../../src/providers/upstream-exchange.js';

const BIG = Buffer.alloc(4 * 1024 * 1024, 'abcdefghijklmnopqrstuvwxyz');
let server: Server;
let base: string;
const agent = new Agent({ keepAliveTimeout: 1000, pipelining: 1 });
const closed: string[] = [];
let holdHead: ServerResponse | undefined;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.on('close', () => closed.push(req.url!));
    if (req.url === '/events') {
      // Every event and the end in one tick: one write on the wire.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 5; i++) res.write(`data: ${i}\n\n`);
      res.end('data: [DONE]\n\n');
    } else if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(BIG);
    } else if (req.url === '/bom') {
      res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"ok":"é"}')]));
    } else if (req.url!.startsWith('/endless')) {
      res.writeHead(200);
      res.write('first\n');
      // Never ends: the reader decides when to stop.
    } else if (req.url === '/no-head') {
      holdHead = res;
    } else if (req.url === '/echo') {
      let body = '';
      req.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => res.end(JSON.stringify({ method: req.method, body, header: req.headers['x-test'] })));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  holdHead?.destroy();
  await agent.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const call = (path: string, signal = new AbortController().signal) =>
  exchange(agent, { url: `${base}${path}`, headers: { 'x-test': 'yes' }, body: '{"hello":1}', signal, headersTimeout: 5000, bodyTimeout: 5000 });

describe('upstream exchange', () => {
  it('sends the method, headers and body, and answers with status and headers', async () => {
    const res = await call('/echo');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBeUndefined();
    expect(await res.body.json()).toEqual({ method: 'POST', body: '{"hello":1}', header: 'yes' });
  });

  it('knows the body ended in the same tick as its last bytes (no process.nextTick in between)', async () => {
    const res = await call('/events');
    const chunks: string[] = [];
    const reader = res.body[Symbol.asyncIterator]();
    let next = await reader.next();
    // node:http flushes a response corked for the tick on process.nextTick: an end seen only after one went out alone.
    let flushed = false;
    process.nextTick(() => (flushed = true));
    while (!next.done) {
      chunks.push(Buffer.from(next.value).toString());
      next = await reader.next();
    }
    expect(flushed).toBe(false);
    expect(chunks.join('')).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: [DONE]\n\n');
  });

  it('hands what arrived together to the reader as one chunk, and tells the observer of the end once', async () => {
    const res = await call('/events');
    const ends: string[] = [];
    const chunks: string[] = [];
    for await (const chunk of res.body.observe({ onEnd: () => ends.push('end') })) chunks.push(Buffer.from(chunk).toString());
    expect(chunks.join('')).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: [DONE]\n\n');
    // One write upstream, one socket read here: the six events are one chunk (one write to the client, not six).
    expect(chunks).toHaveLength(1);
    expect(ends).toEqual(['end']);
  });

  it('gives a stream reader the observer\'s error for a transport failure, and tells it of an early stop', async () => {
    const ends: string[] = [];
    const stopped = await call('/endless?observe-stop');
    for await (const _ of stopped.body.observe({ onEnd: () => ends.push('stopped') })) break;
    expect(ends).toEqual(['stopped']);
    await vi.waitFor(() => expect(closed).toContain('/endless?observe-stop'));

    const aborted = new AbortController();
    const failing = await call('/endless?observe-abort', aborted.signal);
    const mapped = (async () => {
      for await (const _ of failing.body.observe({ mapError: (err) => new Error(`mapped: ${err.message}`), onEnd: () => ends.push('failed') })) aborted.abort(new Error('gone'));
    })();
    await expect(mapped).rejects.toThrow('mapped: gone');
    expect(ends).toEqual(['stopped', 'failed']);

    // bytes() rejects with the transport's own error: its caller maps it (a second mapping would hide what happened).
    const whole = new AbortController();
    const read = await call('/endless?observe-bytes', whole.signal);
    const reading = read.body.observe({ mapError: () => new Error('must not be used') }).bytes();
    whole.abort(new Error('deadline'));
    await expect(reading).rejects.toThrow('deadline');
  });

  it('delivers every byte in order to a reader slower than the upstream (paused and resumed)', async () => {
    const res = await call('/big');
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of res.body) {
      hash.update(chunk);
      size += chunk.byteLength;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(size).toBe(BIG.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(BIG).digest('hex'));
  });

  it('reads the whole body as bytes or as text without a byte-order mark', async () => {
    expect(Buffer.from(await (await call('/big')).body.bytes()).equals(BIG)).toBe(true);
    expect(await (await call('/bom')).body.text()).toBe('{"ok":"é"}');
    const res = await call('/bom');
    await res.body.bytes();
    await expect(res.body.text()).rejects.toThrow(/already read/);
  });

  it('ends the exchange when the reader stops early or destroys the body', async () => {
    const res = await call('/endless?stop');
    for await (const chunk of res.body) {
      expect(Buffer.from(chunk).toString()).toBe('first\n');
      break;
    }
    await vi.waitFor(() => expect(closed).toContain('/endless?stop'));
    const destroyed = await call('/endless?destroy');
    destroyed.body.destroy();
    await vi.waitFor(() => expect(closed).toContain('/endless?destroy'));
    await expect(destroyed.body.bytes()).rejects.toThrow(/not read to its end/);
  });

  it('rejects with the signal\'s reason before the head, and fails the reader with it after', async () => {
    const before = new AbortController();
    const pending = call('/no-head', before.signal);
    await vi.waitFor(() => expect(holdHead).toBeDefined());
    before.abort(new Error('caller left'));
    await expect(pending).rejects.toThrow('caller left');

    const after = new AbortController();
    const res = await call('/endless?abort', after.signal);
    const reading = res.body.bytes();
    after.abort(new Error('total timeout'));
    await expect(reading).rejects.toThrow('total timeout');
    await vi.waitFor(() => expect(closed).toContain('/endless?abort'));

    const already = new AbortController();
    already.abort(new Error('gone already'));
    await expect(call('/echo', already.signal)).rejects.toThrow('gone already');
  });

  it('ends the exchange with a timeout error once its deadline passes, before the head or while the body streams', async () => {
    const withDeadline = (path: string, deadline: ExchangeDeadline) =>
      exchange(agent, { url: `${base}${path}`, headers: {}, body: '{}', signal: new AbortController().signal, deadline, headersTimeout: 60_000, bodyTimeout: 60_000 });
    holdHead = undefined;
    const early = new ExchangeDeadline(50);
    await expect(withDeadline('/no-head', early)).rejects.toThrow('total timeout of 50 ms exceeded');
    expect(early.timedOut).toBe(true);

    // Long enough for the head to arrive first on a busy machine; the body never ends, so only the deadline ends it.
    const late = new ExchangeDeadline(1_500);
    const res = await withDeadline('/endless?deadline', late);
    expect(late.timedOut).toBe(false);
    await expect(res.body.bytes()).rejects.toThrow('total timeout of 1500 ms exceeded');
    expect(late.timedOut).toBe(true);
    await vi.waitFor(() => expect(closed).toContain('/endless?deadline'));
  });
});
