import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshError, type ForwardHandler, type ForwardRequestFrame, type MeshNode } from '../../src/mesh/index.js';
import { chunks, readText, TestMesh } from './mesh-nodes.js';

// Silence of 4 heartbeats ends a generation: at 100 ms a loaded 2-core machine (timers firing 400 ms late) ended the
// long generation below although both sides were alive; 250 ms leaves a second.
const HEARTBEAT_MS = 250;

function frame(overrides: Partial<ForwardRequestFrame> = {}): ForwardRequestFrame {
  return {
    id: `req_${Math.random().toString(36).slice(2)}`,
    format: 'openai',
    operation: 'chat',
    model: 'm',
    stream: true,
    body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
    hop: 1,
    visited: [],
    deadline: Date.now() + 20_000,
    ...overrides,
  };
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function expectMeshError(promise: Promise<unknown>, code: MeshError['code'], beforeFirstByte: boolean): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MeshError);
  expect((err as MeshError).code).toBe(code);
  expect((err as MeshError).beforeFirstByte).toBe(beforeFirstByte);
}

// Every rule of a forward holds on both versions: one request per 1.0.0 stream, or many on a 2.0.0 session.
describe.each([{ protocol: '2.0.0', sessions: true }, { protocol: '1.0.0', sessions: false }])('forwarding over /meshgate/forward/$protocol', ({ sessions }) => {
  const mesh = new TestMesh();
  let requester: MeshNode;
  let server: MeshNode;

  beforeAll(async () => {
    requester = await mesh.node({ heartbeat_ms: HEARTBEAT_MS, ban_after_failures: 2, forward_sessions: sessions });
    server = await mesh.node({ heartbeat_ms: HEARTBEAT_MS, bootstrap: requester.multiaddrs(), forward_sessions: sessions });
  });
  afterAll(() => mesh.stopAll());

  it('streams the head, the body chunks and the trailer, and hands the handler the request and the peer id', async () => {
    let seen: { req: ForwardRequestFrame; peerId: string } | undefined;
    server.setForwardHandler(async (req, ctx) => {
      seen = { req, peerId: ctx.peerId };
      return {
        head: { status: 200, headers: { 'content-type': 'text/event-stream' } },
        body: chunks('data: one\n\n', 'data: two\n\n', 'data: [DONE]\n\n'),
        trailer: () => ({ usage: { inputTokens: 3, outputTokens: 2 }, provider: 'p1', model: 'm-upstream' }),
      };
    });
    const sent = frame({ principal: 'token_1' });
    const result = await requester.forward(server.peerId, sent, AbortSignal.timeout(10_000));
    expect(result.head).toEqual({ status: 200, headers: { 'content-type': 'text/event-stream' } });
    expect(await readText(result.body)).toBe('data: one\n\ndata: two\n\ndata: [DONE]\n\n');
    expect(await result.trailer).toEqual({ usage: { inputTokens: 3, outputTokens: 2 }, provider: 'p1', model: 'm-upstream' });
    expect(seen?.req).toEqual(sent);
    expect(seen?.peerId).toBe(requester.peerId);
  });

  it('carries a large body split into frames, byte for byte', async () => {
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    server.setForwardHandler(async () => ({
      head: { status: 200, headers: {} },
      body: (async function* () {
        yield big;
      })(),
      trailer: () => ({}),
    }));
    const result = await requester.forward(server.peerId, frame({ body: { blob: 'x'.repeat(2_000_000) } }), AbortSignal.timeout(10_000));
    const received: Uint8Array[] = [];
    for await (const chunk of result.body) received.push(chunk);
    expect(Buffer.compare(Buffer.concat(received), Buffer.from(big))).toBe(0);
  });

  it('keeps a long generation alive with heartbeats (silence longer than 4 heartbeats would end it)', async () => {
    server.setForwardHandler(async (_req, { signal }) => {
      await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 8));
      signal.throwIfAborted();
      return {
        head: { status: 200, headers: {} },
        body: (async function* () {
          yield new TextEncoder().encode('late');
          await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 8));
          yield new TextEncoder().encode(' answer');
        })(),
        trailer: () => ({}),
      };
    });
    const result = await requester.forward(server.peerId, frame(), AbortSignal.timeout(10_000));
    expect(await readText(result.body)).toBe('late answer');
  });

  it('cancels the handler when the requester aborts mid-stream', async () => {
    const handlerAborted = deferred<unknown>();
    const firstSent = deferred();
    server.setForwardHandler(async (_req, { signal }) => {
      signal.addEventListener('abort', () => handlerAborted.resolve(signal.reason), { once: true });
      return {
        head: { status: 200, headers: {} },
        body: (async function* () {
          yield new TextEncoder().encode('first');
          firstSent.resolve();
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        })(),
        trailer: () => ({}),
      };
    });
    const controller = new AbortController();
    const result = await requester.forward(server.peerId, frame(), controller.signal);
    const iterator = result.body[Symbol.asyncIterator]();
    expect(new TextDecoder().decode((await iterator.next()).value)).toBe('first');
    await firstSent.promise;
    controller.abort(new Error('client went away'));
    expect(await handlerAborted.promise).toBeInstanceOf(Error);
    await expect(iterator.next()).rejects.toThrow('client went away');
  });

  it('cancels the handler when the requester stops reading the body early', async () => {
    const handlerAborted = deferred();
    server.setForwardHandler(async (_req, { signal }) => {
      signal.addEventListener('abort', () => handlerAborted.resolve(), { once: true });
      return {
        head: { status: 200, headers: {} },
        body: (async function* () {
          for (let i = 0; i < 1000 && !signal.aborted; i++) {
            yield new TextEncoder().encode(`chunk ${i}\n`);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })(),
        trailer: () => ({}),
      };
    });
    const result = await requester.forward(server.peerId, frame(), AbortSignal.timeout(10_000));
    for await (const _chunk of result.body) break;
    await handlerAborted.promise;
    await expectMeshError(result.trailer, 'stream_reset', false);
  });

  // A serving handler that sends one chunk and then nothing until it is cancelled.
  const oneChunkThenNothing = (cancelled: { resolve: (reason: unknown) => void }): ForwardHandler => async (_req, { signal }) => {
    signal.addEventListener('abort', () => cancelled.resolve(signal.reason), { once: true });
    return {
      head: { status: 200, headers: {} },
      body: (async function* () {
        yield new TextEncoder().encode('first');
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      })(),
      trailer: () => ({}),
    };
  };

  it('gives up on a peer silent for 4 heartbeat intervals while a frame is awaited, and resets the request there', async () => {
    // A serving node whose heartbeats are far apart: after its first chunk, nothing arrives for longer than the
    // requester's 4 × 250 ms.
    const quiet = await mesh.node({ heartbeat_ms: 60_000, bootstrap: requester.multiaddrs(), forward_sessions: sessions });
    const cancelled = deferred<unknown>();
    quiet.setForwardHandler(oneChunkThenNothing(cancelled));
    const result = await requester.forward(quiet.peerId, frame(), AbortSignal.timeout(30_000));
    const iterator = result.body[Symbol.asyncIterator]();
    expect(new TextDecoder().decode((await iterator.next()).value)).toBe('first');
    const err = await iterator.next().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe('stream_reset');
    expect((err as MeshError).beforeFirstByte).toBe(false);
    expect(((err as MeshError).cause as Error).message).toBe('peer went silent');
    await cancelled.promise;
  });

  it('reports a handler failure mid-body as a broken stream after the first byte', async () => {
    server.setForwardHandler(async () => ({
      head: { status: 200, headers: {} },
      body: (async function* () {
        yield new TextEncoder().encode('partial');
        throw new Error('upstream died');
      })(),
      trailer: () => ({}),
    }));
    const result = await requester.forward(server.peerId, frame(), AbortSignal.timeout(10_000));
    const iterator = result.body[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    await expectMeshError(iterator.next(), 'stream_reset', false);
    await expectMeshError(result.trailer, 'stream_reset', false);
  });

  it('refuses requests beyond max_hops and requests that already visited the node', async () => {
    server.setForwardHandler(async () => ({ head: { status: 200, headers: {} }, body: chunks('never'), trailer: () => ({}) }));
    await expectMeshError(requester.forward(server.peerId, frame({ hop: 2 }), AbortSignal.timeout(10_000)), 'hop_limit', true);
    await expectMeshError(requester.forward(server.peerId, frame({ visited: [server.peerId] }), AbortSignal.timeout(10_000)), 'cycle', true);
    await expectMeshError(requester.forward(server.peerId, frame({ deadline: Date.now() - 1 }), AbortSignal.timeout(10_000)), 'timeout', true);
  });
});

describe('forwarding through two hops', () => {
  const mesh = new TestMesh();
  afterAll(() => mesh.stopAll());

  it('refuses a request that comes back to a node it already visited (A → B → A)', async () => {
    const a = await mesh.node({ max_hops: 2 });
    const b = await mesh.node({ max_hops: 2, bootstrap: a.multiaddrs() });
    // B serves by forwarding again, as the gateway does when its own providers fail: here, back to A.
    const relay: ForwardHandler = async (req, { signal }) => {
      const onward = await b.forward(a.peerId, { ...req, hop: req.hop + 1, visited: [...req.visited, b.peerId] }, signal);
      return { head: onward.head, body: onward.body, trailer: () => onward.trailer };
    };
    b.setForwardHandler(relay);
    const cycled = deferred<unknown>();
    b.setForwardHandler(async (req, ctx) => relay(req, ctx).catch((err: unknown) => {
      cycled.resolve(err);
      throw err;
    }));
    a.setForwardHandler(async () => ({ head: { status: 200, headers: {} }, body: chunks('should not run'), trailer: () => ({}) }));
    await expectMeshError(a.forward(b.peerId, frame({ visited: [a.peerId] }), AbortSignal.timeout(10_000)), 'peer_refused', true);
    const err = await cycled.promise;
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe('cycle');
  });
});

describe('a peer that dies', () => {
  const mesh = new TestMesh();
  let requester: MeshNode;
  afterAll(() => mesh.stopAll());
  beforeAll(async () => {
    requester = await mesh.node({ heartbeat_ms: HEARTBEAT_MS, ban_after_failures: 2, ban_base_ms: 60_000 });
  });

  async function dyingPeer(answerFirst: boolean) {
    const peer = await mesh.node({ heartbeat_ms: HEARTBEAT_MS, bootstrap: requester.multiaddrs() });
    const reached = deferred();
    peer.setForwardHandler(async (_req, { signal }) => {
      if (!answerFirst) {
        reached.resolve();
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        throw signal.reason;
      }
      return {
        head: { status: 200, headers: {} },
        body: (async function* () {
          yield new TextEncoder().encode('first');
          reached.resolve();
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        })(),
        trailer: () => ({}),
      };
    });
    return { peer, reached: reached.promise };
  }

  it('fails before the first byte when the peer dies before answering, and bans it after repeated failures', async () => {
    const { peer, reached } = await dyingPeer(false);
    const pending = requester.forward(peer.peerId, frame(), AbortSignal.timeout(10_000));
    await reached;
    await peer.stop();
    await expectMeshError(pending, 'stream_reset', true);
    await expectMeshError(requester.forward(peer.peerId, frame(), AbortSignal.timeout(10_000)), 'peer_unreachable', true);
    // Two failures in a row (ban_after_failures = 2): the peer shows as banned even though its record was withdrawn.
    const shown = requester.status().peers.find((p) => p.peerId === peer.peerId);
    expect(shown).toMatchObject({ state: 'banned', models: [], stats: { failures: 2 } });
    expect(shown?.bannedUntil).toBeGreaterThan(Date.now());
  });

  it('fails mid-stream (after the first byte) when the peer dies while streaming', async () => {
    const { peer, reached } = await dyingPeer(true);
    const result = await requester.forward(peer.peerId, frame(), AbortSignal.timeout(10_000));
    const iterator = result.body[Symbol.asyncIterator]();
    expect(new TextDecoder().decode((await iterator.next()).value)).toBe('first');
    await reached;
    await peer.stop();
    await expectMeshError(iterator.next(), 'stream_reset', false);
  });
});
