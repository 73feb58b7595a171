import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { encode as encodeVarint } from 'it-length-prefixed';
import { Uint8ArrayList } from 'uint8arraylist';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  decodeSessionFrame, encodeRequestFrame, encodeSessionFrame, FORWARD_PROTOCOL_V2, FrameType, INITIAL_CREDIT_BYTES, type ForwardRequestFrame, type SessionFrame,
} from '../../src/mesh/forward-frames.js';
import { FrameReader } from '../../src/mesh/frame-reader.js';
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p-node.js';
import type { ForwardHandler, MeshNode } from '../../src/mesh/index.js';
import { chunks, readText, TestMesh } from './mesh-nodes.js';

/**
 * `/meshgate/forward/2.0.0` between real libp2p nodes on loopback: many requests side by side on one stream per
 * peer, each with its own cancellation and credit, a 1.0.0-only peer still served, and a broken frame closing only
 * what it must.
 */

function frame(overrides: Partial<ForwardRequestFrame> = {}): ForwardRequestFrame {
  return {
    id: `req_${Math.random().toString(36).slice(2)}`, format: 'openai', operation: 'chat', model: 'm', stream: true,
    body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, hop: 1, visited: [], deadline: Date.now() + 60_000, ...overrides,
  };
}

const encoder = new TextEncoder();

/** Answers each request with the text its body names (`messages[0].content`), in three chunks. */
const echoHandler: ForwardHandler = async (req) => {
  const content = (req.body as { messages: Array<{ content: string }> }).messages[0]!.content;
  return { head: { status: 200, headers: {} }, body: chunks(`${content}:1 `, `${content}:2 `, `${content}:3`), trailer: () => ({ provider: 'echo' }) };
};

describe('many requests on one session', () => {
  const mesh = new TestMesh();
  let requester: MeshNode;
  let server: MeshNode;

  beforeAll(async () => {
    server = await mesh.node({ max_concurrent: 64, max_concurrent_per_peer: 64 });
    requester = await mesh.node({ bootstrap: server.multiaddrs() });
  });
  afterAll(() => mesh.stopAll());

  it('carries 40 concurrent forwards over a single stream, each answer whole and to its own request', async () => {
    server.setForwardHandler(echoHandler);
    const texts = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const result = await requester.forward(server.peerId, frame({ body: { model: 'm', messages: [{ role: 'user', content: `q${i}` }] } }), AbortSignal.timeout(20_000));
        const text = await readText(result.body);
        expect(await result.trailer).toEqual({ provider: 'echo' });
        return text;
      }),
    );
    expect(texts).toEqual(Array.from({ length: 40 }, (_, i) => `q${i}:1 q${i}:2 q${i}:3`));
    expect(requester.forwardSessions).toBe(1);
  });

  it('cancels one request (its handler sees the abort) and leaves the others on the session intact', async () => {
    const gates = new Map<string, { open: () => void; aborted: Promise<void> }>();
    server.setForwardHandler(async (req, { signal }) => {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      gates.set(req.id, { open, aborted });
      return {
        head: { status: 200, headers: {} },
        body: (async function* () {
          yield encoder.encode('first ');
          await Promise.race([opened, aborted]);
          yield encoder.encode('second');
        })(),
        trailer: () => ({}),
      };
    });
    const frames = [frame(), frame(), frame()];
    const cancel = new AbortController();
    const results = await Promise.all(frames.map((f, i) => requester.forward(server.peerId, f, i === 1 ? cancel.signal : AbortSignal.timeout(20_000))));
    const iterators = results.map((r) => r.body[Symbol.asyncIterator]());
    for (const it of iterators) expect(new TextDecoder().decode((await it.next()).value)).toBe('first ');
    cancel.abort(new Error('client went away'));
    await gates.get(frames[1]!.id)!.aborted;
    for (const f of [frames[0]!, frames[2]!]) gates.get(f.id)!.open();
    for (const i of [0, 2]) {
      expect(new TextDecoder().decode((await iterators[i]!.next()).value)).toBe('second');
      expect((await iterators[i]!.next()).done).toBe(true);
      await expect(results[i]!.trailer).resolves.toEqual({});
    }
    await expect(iterators[1]!.next()).rejects.toThrow();
    expect(requester.forwardSessions).toBe(1);
  });

  it('lets a fast reader finish while a slow one reads nothing, and pulls the slow answer no further than its credit', async () => {
    const CHUNK = 64 * 1024;
    const pulled = new Map<string, number>();
    server.setForwardHandler(async (req) => ({
      head: { status: 200, headers: {} },
      body: (async function* () {
        for (let i = 0; i < 64; i++) {
          pulled.set(req.id, (pulled.get(req.id) ?? 0) + CHUNK);
          yield new Uint8Array(CHUNK).fill(i);
        }
      })(),
      trailer: () => ({}),
    }));
    const slowFrame = frame();
    const slow = await requester.forward(server.peerId, slowFrame, AbortSignal.timeout(30_000));
    const fast = await requester.forward(server.peerId, frame(), AbortSignal.timeout(30_000));
    let bytes = 0;
    for await (const chunk of fast.body) bytes += chunk.byteLength;
    expect(bytes).toBe(64 * CHUNK);
    await fast.trailer;
    // The slow answer's 4 MiB stay at the server: it pulls a chunk only once the requester has credit for it.
    await vi.waitFor(() => expect(pulled.get(slowFrame.id)).toBeGreaterThanOrEqual(INITIAL_CREDIT_BYTES));
    expect(pulled.get(slowFrame.id)).toBeLessThanOrEqual(INITIAL_CREDIT_BYTES + CHUNK);
    // Reading it now gets all of it.
    let slowBytes = 0;
    for await (const chunk of slow.body) slowBytes += chunk.byteLength;
    expect(slowBytes).toBe(64 * CHUNK);
  });
});

describe('a peer that speaks only 1.0.0', () => {
  const mesh = new TestMesh();
  afterAll(() => mesh.stopAll());

  it('is served over 1.0.0 streams when it serves, and is served when it asks a 2.0.0 node', async () => {
    const modern = await mesh.node();
    const legacy = await mesh.node({ forward_sessions: false, bootstrap: modern.multiaddrs() });
    legacy.setForwardHandler(echoHandler);
    modern.setForwardHandler(echoHandler);
    const toLegacy = await modern.forward(legacy.peerId, frame({ body: { model: 'm', messages: [{ content: 'old' }] } }), AbortSignal.timeout(20_000));
    expect(await readText(toLegacy.body)).toBe('old:1 old:2 old:3');
    await expect(toLegacy.trailer).resolves.toEqual({ provider: 'echo' });
    // Remembered: the next forward goes straight to 1.0.0, and no session is held for the legacy peer.
    const again = await modern.forward(legacy.peerId, frame({ body: { model: 'm', messages: [{ content: 'again' }] } }), AbortSignal.timeout(20_000));
    expect(await readText(again.body)).toBe('again:1 again:2 again:3');
    expect(modern.forwardSessions).toBe(0);
    const fromLegacy = await legacy.forward(modern.peerId, frame({ body: { model: 'm', messages: [{ content: 'up' }] } }), AbortSignal.timeout(20_000));
    expect(await readText(fromLegacy.body)).toBe('up:1 up:2 up:3');
  });
});

/** A peer outside the project's classes: its own libp2p node, writing whatever bytes it likes on a 2.0.0 stream. */
async function rawPeer(): Promise<MeshLibp2p> {
  const node = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], isAllowed: () => true, clock: Date.now });
  await node.start();
  return node;
}

/** The frames a raw session receives, by session id, and whether the stream ended (cleanly or reset). */
function sessionFrames(stream: Stream) {
  const reader = new FrameReader(stream, 2 * 1024 * 1024, { decode: decodeSessionFrame });
  const frames: Array<{ sid: number; frame: SessionFrame }> = [];
  let ended: 'clean' | 'reset' | undefined;
  void (async () => {
    try {
      for (let next = await reader.next(); next; next = await reader.next()) frames.push(next);
      ended = 'clean';
    } catch {
      ended = 'reset';
    }
  })();
  return { frames, ended: () => ended, of: (sid: number) => frames.filter((f) => f.sid === sid).map((f) => f.frame.type) };
}

describe('frames a session cannot use', () => {
  const mesh = new TestMesh();
  let server: MeshNode;
  let raw: MeshLibp2p;
  const request = (sid: number) => encodeRequestFrame(encoder.encode(JSON.stringify(frame())), sid);

  beforeAll(async () => {
    server = await mesh.node();
    server.setForwardHandler(echoHandler);
    raw = await rawPeer();
  });
  afterAll(async () => {
    await raw.stop();
    await mesh.stopAll();
  });

  it('refuses a malformed request and resets the request a wrong-way frame names, and serves the next request on the session', async () => {
    const stream = await raw.dialProtocol(multiaddr(server.multiaddrs()[0]), FORWARD_PROTOCOL_V2, { signal: AbortSignal.timeout(5_000) });
    const seen = sessionFrames(stream);
    // sid 1: a REQUEST whose JSON is not a request.
    stream.send(encodeVarint.single(new Uint8ArrayList(Uint8Array.of(FrameType.request, 1), encoder.encode('{"not":"a request"}'))));
    await vi.waitFor(() => expect(seen.of(1)).toEqual(['refusal']));
    expect(seen.frames.find((f) => f.sid === 1)!.frame).toMatchObject({ value: { code: 'bad_request' } });
    // sid 3: a request being served, then a HEAD (a server's frame) sent for it by the requester: that request is reset.
    server.setForwardHandler(async (_req, { signal }) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      throw signal.reason;
    });
    stream.send(request(3));
    await vi.waitFor(() => expect(server.inFlight).toBe(1));
    stream.send(encodeSessionFrame(3, { type: 'head', value: { status: 200, headers: {} } }));
    await vi.waitFor(() => expect(seen.of(3)).toContain('reset'));
    await vi.waitFor(() => expect(server.inFlight).toBe(0));
    // A frame type this node does not know is skipped; the session still serves.
    server.setForwardHandler(echoHandler);
    stream.send(encodeVarint.single(new Uint8ArrayList(Uint8Array.of(0x7f, 5), encoder.encode('future'))));
    stream.send(request(7));
    await vi.waitFor(() => expect(seen.of(7)).toEqual(['head', 'data', 'data', 'data', 'trailer']));
    expect(seen.ended()).toBeUndefined();
    stream.abort(new Error('done'));
  });

  it('resets the session on a frame over the size limit, and the connection still carries a new session', async () => {
    const stream = await raw.dialProtocol(multiaddr(server.multiaddrs()[0]), FORWARD_PROTOCOL_V2, { signal: AbortSignal.timeout(5_000) });
    const seen = sessionFrames(stream);
    const connections = raw.getConnections().map((c) => c.id);
    const prefix = encodeVarint.single(new Uint8ArrayList(new Uint8Array(4 * 1024 * 1024))).subarray(0, -4 * 1024 * 1024);
    stream.send(new Uint8ArrayList(prefix, Uint8Array.of(FrameType.request, 1)));
    await vi.waitFor(() => expect(seen.ended()).toBe('reset'));
    expect(raw.getConnections().map((c) => c.id)).toEqual(connections);
    const next = await raw.dialProtocol(multiaddr(server.multiaddrs()[0]), FORWARD_PROTOCOL_V2, { signal: AbortSignal.timeout(5_000) });
    const served = sessionFrames(next);
    next.send(request(1));
    await vi.waitFor(() => expect(served.of(1)).toEqual(['head', 'data', 'data', 'data', 'trailer']));
    next.abort(new Error('done'));
  });
});
