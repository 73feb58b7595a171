import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream';
import { logger } from '@libp2p/logger';
import { Uint8ArrayList } from 'uint8arraylist';
import { describe, expect, it } from 'vitest';

/**
 * The two transport fixes applied to libp2p packages at install (patch-package, patches/): each one would cost a
 * system call and a wake-up of the peer per message or frame on every forwarded request. These tests run the
 * patched classes themselves, so they fail when a package upgrade drops a patch (patch-package also fails the
 * install when one no longer applies).
 */

/** Yamux frame types (the spec's numbering; the package does not export its enum). */
const DATA = 0;
const WINDOW_UPDATE = 1;
/** StreamState.Established in @chainsafe/libp2p-yamux. */
const ESTABLISHED = 3;
const WINDOW = 256 * 1024;

interface SentFrame {
  type: number;
  length: number;
}

function establishedStream(sent: SentFrame[]): YamuxStream {
  return new YamuxStream({
    id: '1', streamId: 1, direction: 'inbound', state: ESTABLISHED, log: logger('test:yamux'),
    // No RTT measured: the window stays at its initial size, so the thresholds below are exact.
    getRTT: () => -1,
    sendFrame: (header: { type: number; length: number }) => {
      sent.push({ type: header.type, length: header.length });
      return true;
    },
  } as never);
}

const dataFrame = (bytes: number) => ({ header: { type: DATA, flag: 0, streamID: 1, length: bytes }, data: new Uint8ArrayList(new Uint8Array(bytes)) });

describe('yamux: window updates (patches/@chainsafe+libp2p-yamux)', () => {
  it('sends no window update while less than half the window is consumed, then one for all of it', () => {
    const sent: SentFrame[] = [];
    const stream = establishedStream(sent);
    // 127 frames of 1 KB: under half the 256 KB window. Unpatched, each frame got a WINDOW_UPDATE of its own.
    for (let i = 0; i < 127; i++) stream.handleData(dataFrame(1024) as never);
    expect(sent.filter((f) => f.type === WINDOW_UPDATE)).toEqual([]);
    // The 128th reaches half: one update gives the sender back everything consumed.
    stream.handleData(dataFrame(1024) as never);
    expect(sent).toEqual([{ type: WINDOW_UPDATE, length: 128 * 1024 }]);
    // The sender never ran dry: its credit after the update is the whole window again.
    for (let i = 0; i < 3; i++) stream.handleData(dataFrame(WINDOW / 4) as never);
    expect(sent.map((f) => f.length)).toEqual([128 * 1024, WINDOW / 2]);
  });
});

describe('tcp: one write per message (patches/@libp2p+tcp)', () => {
  it('writes the buffers of one sendData call in one writev', async () => {
    // The connection class is internal to @libp2p/tcp (its exports map has only the transport): load it by path.
    const { toMultiaddrConnection } = (await import(new URL('../../../node_modules/@libp2p/tcp/dist/src/socket-to-conn.js', import.meta.url).href)) as {
      toMultiaddrConnection: (init: Record<string, unknown>) => { sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean }; abort(err: Error): void };
    };
    const received: Buffer[] = [];
    // The test ends by aborting (a TCP reset): the server side sees ECONNRESET.
    const server = createServer((socket) => socket.on('data', (chunk: Buffer) => received.push(chunk)).on('error', () => {}));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const { connect } = await import('node:net');
    const socket: Socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    try {
      const writes: string[] = [];
      const write = socket._write.bind(socket);
      const writev = socket._writev!.bind(socket);
      socket._write = (chunk, encoding, callback) => (writes.push(`write ${chunk.length}`), write(chunk, encoding, callback));
      socket._writev = (chunks, callback) => (writes.push(`writev ${chunks.map((c) => c.chunk.length).join('+')}`), writev(chunks, callback));
      const conn = toMultiaddrConnection({ socket, direction: 'outbound', log: logger('test:tcp') });
      // A Noise message as the encrypter hands it over: a 2-byte length prefix and the ciphertext.
      const result = conn.sendData(new Uint8ArrayList(Uint8Array.of(0, 40), new Uint8Array(40).fill(7)));
      expect(result).toEqual({ sentBytes: 42, canSendMore: true });
      // Unpatched: ['write 2', 'write 40'] (two system calls, two segments on the wire).
      expect(writes).toEqual(['writev 2+40']);
      await expect.poll(() => Buffer.concat(received).length, { timeout: 5_000 }).toBe(42);
      conn.abort(new Error('test over'));
    } finally {
      socket.destroy();
      server.close();
    }
  });
});
