import type { Connection, Stream } from '@libp2p/interface';
import pino from 'pino';
import { Uint8ArrayList } from 'uint8arraylist';
import { describe, expect, it, vi } from 'vitest';
import {
  decodeFrame, decodeSessionFrame, encodeRequestFrame, encodeSessionFrame, INITIAL_CREDIT_BYTES, MAX_DATA_FRAME_BYTES, type ForwardRequestFrame,
} from '../../../src/mesh/forward-frames.js';
import { ForwardServer, type ForwardHandler } from '../../../src/mesh/forward-server.js';

/**
 * How many writes a serving node makes per forwarded answer: each `stream.send` is a Yamux frame, a Noise message and
 * a socket write, and a wake-up at the requester. A complete answer's head, body and trailer leave in one write; a
 * streamed answer's chunks leave as they come (the head with the first); a large answer in bounded writes, flushed
 * before waiting for credit. The stream is a stand-in recording what is sent, so every write is counted exactly.
 */

/** A libp2p stream as far as the forward server uses it: frames are delivered as 'message' events, sends recorded. */
class RecordingStream extends EventTarget {
  readonly writes: Uint8Array[] = [];
  readStatus = 'readable';
  writeStatus = 'writable';
  readableEnded = false;
  writableNeedsDrain = false;

  send(data: Uint8Array | Uint8ArrayList): boolean {
    this.writes.push(data.subarray());
    return true;
  }

  async onDrain(): Promise<void> {}
  pause(): void {
    this.readStatus = 'paused';
  }
  resume(): void {
    this.readStatus = 'readable';
  }
  async close(): Promise<void> {
    this.writeStatus = 'closed';
  }
  abort(err: Error): void {
    this.writeStatus = 'closed';
    this.dispatchEvent(Object.assign(new Event('close'), { error: err }));
  }

  deliver(bytes: Uint8ArrayList): void {
    this.dispatchEvent(Object.assign(new Event('message'), { data: bytes }));
  }

  /** The requester closed its write side. */
  end(): void {
    this.readableEnded = true;
    this.dispatchEvent(new Event('end'));
  }
}

const connection = { remotePeer: { toString: () => 'requester' } } as unknown as Connection;
const encoder = new TextEncoder();

function request(stream: boolean): ForwardRequestFrame {
  return { id: 'req_1', format: 'openai', operation: 'chat', model: 'm', stream, body: { model: 'm', messages: [] }, hop: 1, visited: ['requester'], deadline: Date.now() + 60_000 };
}

function server(handler: ForwardHandler): ForwardServer {
  return new ForwardServer({
    selfId: 'server', maxHops: 3, maxConcurrent: 8, maxRequestBytes: 1024 * 1024, heartbeatMs: 60_000, requestTimeoutMs: 5_000,
    isAllowed: () => true, handler: () => handler, logger: pino({ level: 'silent' }),
  });
}

/** The frames one write carries, in order (each length-prefixed). */
function framesOf<T>(write: Uint8Array, decode: (body: Uint8Array) => T): T[] {
  const out: T[] = [];
  for (let offset = 0; offset < write.byteLength; ) {
    let length = 0;
    let shift = 0;
    for (;;) {
      const byte = write[offset++]!;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    out.push(decode(write.subarray(offset, offset + length)));
    offset += length;
  }
  return out;
}

const sessionTypes = (write: Uint8Array) => framesOf(write, decodeSessionFrame).map(({ frame }) => frame.type);
const streamTypes = (write: Uint8Array) => framesOf(write, decodeFrame).map((frame) => frame.type);

const complete: ForwardHandler = async () => ({
  head: { status: 200, headers: { 'content-type': 'application/json' } },
  body: (async function* () {
    yield encoder.encode('{"ok":true}');
  })(),
  trailer: () => ({ provider: 'p', usage: { inputTokens: 3, outputTokens: 2 } }),
});

const streamed: ForwardHandler = async () => ({
  head: { status: 200, headers: { 'content-type': 'text/event-stream' } },
  body: (async function* () {
    yield encoder.encode('data: 1\n\n');
    yield encoder.encode('data: 2\n\n');
    yield encoder.encode('data: [DONE]\n\n');
  })(),
  trailer: () => ({ provider: 'p' }),
});

describe('writes per forwarded answer', () => {
  it('sends a complete answer on a 2.0.0 session as one write: head, body and trailer', async () => {
    const stream = new RecordingStream();
    const done = server(complete).handleSession(stream as unknown as Stream, connection);
    stream.deliver(encodeRequestFrame(encoder.encode(JSON.stringify(request(false))), 1));
    await vi.waitFor(() => expect(stream.writes.flatMap(sessionTypes)).toContain('trailer'));
    expect(stream.writes.map(sessionTypes)).toEqual([['head', 'data', 'trailer']]);
    stream.end();
    await done;
  });

  it('sends a complete answer on a 1.0.0 stream as one write before closing it', async () => {
    const stream = new RecordingStream();
    const done = server(complete).handle(stream as unknown as Stream, connection);
    stream.deliver(encodeRequestFrame(encoder.encode(JSON.stringify(request(false)))));
    stream.end();
    await done;
    expect(stream.writes.map(streamTypes)).toEqual([['head', 'data', 'trailer']]);
    expect(stream.writeStatus).toBe('closed');
  });

  it('sends each chunk of a streamed answer as it comes, the head with the first, the trailer on its own', async () => {
    const stream = new RecordingStream();
    const done = server(streamed).handleSession(stream as unknown as Stream, connection);
    stream.deliver(encodeRequestFrame(encoder.encode(JSON.stringify(request(true))), 1));
    await vi.waitFor(() => expect(stream.writes.flatMap(sessionTypes)).toContain('trailer'));
    expect(stream.writes.map(sessionTypes)).toEqual([['head', 'data'], ['data'], ['data'], ['trailer']]);
    stream.end();
    await done;
  });

  it('sends a complete answer larger than the credit in bounded writes, what is queued leaving before it waits for credit', async () => {
    const size = INITIAL_CREDIT_BYTES + MAX_DATA_FRAME_BYTES + 1000;
    const large: ForwardHandler = async () => ({ head: { status: 200, headers: {} }, body: (async function* () { yield new Uint8Array(size).fill(7); })(), trailer: () => ({}) });
    const stream = new RecordingStream();
    const done = server(large).handleSession(stream as unknown as Stream, connection);
    stream.deliver(encodeRequestFrame(encoder.encode(JSON.stringify(request(false))), 1));
    const dataBytes = () => stream.writes.flatMap((w) => framesOf(w, decodeSessionFrame)).reduce((n, { frame }) => n + (frame.type === 'data' ? frame.value.byteLength : 0), 0);
    // The whole initial credit goes out (none of it held back waiting for credit that comes only once it is read).
    await vi.waitFor(() => expect(dataBytes()).toBe(INITIAL_CREDIT_BYTES));
    expect(stream.writes.flatMap(sessionTypes)).not.toContain('trailer');
    stream.deliver(encodeSessionFrame(1, { type: 'credit', value: INITIAL_CREDIT_BYTES }));
    await vi.waitFor(() => expect(stream.writes.flatMap(sessionTypes)).toContain('trailer'));
    expect(dataBytes()).toBe(size);
    for (const write of stream.writes) expect(write.byteLength).toBeLessThanOrEqual(MAX_DATA_FRAME_BYTES + 1024);
    expect(stream.writes.length).toBeLessThanOrEqual(Math.ceil(size / MAX_DATA_FRAME_BYTES) + 1);
    stream.end();
    await done;
  });
});
