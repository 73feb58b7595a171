import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { encode as encodeVarint } from 'it-length-prefixed';
import { Uint8ArrayList } from 'uint8arraylist';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FORWARD_PROTOCOL, FrameType, type Frame } from '../../src/mesh/forward-frames.js';
import { FrameReader } from '../../src/mesh/frame-reader.js';
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p-node.js';
import { MeshError, type ForwardHandler, type ForwardRequestFrame, type MeshNode } from '../../src/mesh/index.js';
import { chunks, readText, TestMesh } from './mesh-nodes.js';

/**
 * Attack class "exhaustion": a peer that tries to take a serving node's slots, memory or time — many forwards at
 * once, request frames that announce a large length and then trickle, a serving peer that keeps a request with
 * heartbeats and never answers. Real libp2p nodes on loopback; the raw attacker speaks the forward protocol itself.
 */

function frame(overrides: Partial<ForwardRequestFrame> = {}): ForwardRequestFrame {
  return {
    id: `req_${Math.random().toString(36).slice(2)}`, format: 'openai', operation: 'chat', model: 'm', stream: true,
    body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, hop: 1, visited: [], deadline: Date.now() + 60_000, ...overrides,
  };
}

async function refusalOf(promise: Promise<unknown>): Promise<MeshError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MeshError);
  return err as MeshError;
}

/** A handler that holds every request until `release()`, then answers "done". */
function holdingHandler() {
  let open: Array<() => void> = [];
  let held = 0;
  const handler: ForwardHandler = async (_req, { signal }) => {
    held++;
    await new Promise<void>((resolve) => {
      open.push(resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    return { head: { status: 200, headers: {} }, body: chunks('done'), trailer: () => ({}) };
  };
  return {
    handler,
    held: () => held,
    release: () => {
      for (const resolve of open) resolve();
      open = [];
    },
  };
}

describe('one peer opening many forwards at once', () => {
  const mesh = new TestMesh();
  let server: MeshNode;
  let greedy: MeshNode;
  let other: MeshNode;
  afterAll(() => mesh.stopAll());
  beforeAll(async () => {
    server = await mesh.node({ max_concurrent: 8 });
    greedy = await mesh.node({ bootstrap: server.multiaddrs() });
    other = await mesh.node({ bootstrap: server.multiaddrs() });
  });

  it('gets a quarter of max_concurrent (busy beyond), and another peer is still served', async () => {
    const hold = holdingHandler();
    server.setForwardHandler(hold.handler);
    const controller = new AbortController();
    const greedyForwards = Array.from({ length: 8 }, () => greedy.forward(server.peerId, frame(), controller.signal).then(
      async (r) => ({ ok: true as const, text: await readText(r.body) }),
      (err: unknown) => ({ ok: false as const, err }),
    ));
    // Two are held by the handler; the other six are refused as busy without ever reaching it.
    await vi.waitFor(() => expect(hold.held()).toBe(2), { timeout: 10_000, interval: 20 });
    const fromOther = other.forward(server.peerId, frame(), AbortSignal.timeout(20_000));
    await vi.waitFor(() => expect(hold.held()).toBe(3), { timeout: 10_000, interval: 20 });
    hold.release();
    expect(await readText((await fromOther).body)).toBe('done');
    const results = await Promise.all(greedyForwards);
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(6);
    for (const r of refused) expect((r as { err: MeshError }).err.message).toMatch(/refused: this peer already has 2 forwarded requests in flight/);
  });
});

/** A peer outside the project's classes: its own libp2p node that writes whatever bytes it likes on a forward stream. */
async function rawPeer(): Promise<MeshLibp2p> {
  const node = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], isAllowed: () => true, clock: Date.now });
  await node.start();
  return node;
}

/** Opens a forward stream that announces a REQUEST frame of `length` bytes and sends only its first `sent`. */
async function trickle(attacker: MeshLibp2p, target: MeshNode, length: number, sent: number) {
  const stream = await attacker.dialProtocol(multiaddr(target.multiaddrs()[0]), FORWARD_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
  const prefix = encodeVarint.single(new Uint8ArrayList(new Uint8Array(length))).subarray(0, -length);
  stream.send(new Uint8ArrayList(prefix, Uint8Array.of(FrameType.request), new Uint8Array(sent).fill(0x20)));
  const reader = new FrameReader(stream, 1024 * 1024);
  return {
    /** The server's answer: its refusal frame, or undefined if it reset the stream. */
    answer: (async (): Promise<Frame | undefined> => {
      try {
        return await reader.next(AbortSignal.timeout(20_000));
      } catch {
        return undefined;
      }
    })(),
    close: () => stream.abort(new Error('attacker done')),
  };
}

describe('request frames that announce a large length and trickle', () => {
  const mesh = new TestMesh();
  let server: MeshNode;
  let honest: MeshNode;
  const attackers: MeshLibp2p[] = [];
  afterAll(async () => {
    await Promise.all(attackers.map((node) => node.stop()));
    await mesh.stopAll();
  });
  beforeAll(async () => {
    server = await mesh.node({
      max_request_bytes: 1024 * 1024, request_read_budget_bytes: 2 * 1024 * 1024, max_concurrent_per_peer: 8,
      // The trickling frames' deadline: 2 s + 1 MiB at 256 KiB/s ≈ 6 s, room for the checks below on a loaded machine.
      request_read_timeout_ms: 2_000, request_min_bytes_per_second: 256 * 1024,
    });
    honest = await mesh.node({ bootstrap: server.multiaddrs() });
    attackers.push(await rawPeer(), await rawPeer());
    server.setForwardHandler(async () => ({ head: { status: 200, headers: {} }, body: chunks('served'), trailer: () => ({}) }));
  });

  it('holds one peer to its share of the read budget, all peers to the whole of it, and gives it back once frames time out', async () => {
    const [first, second] = attackers as [MeshLibp2p, MeshLibp2p];
    const big = 1024 * 1024 - 1;
    const held = [await trickle(first, server, big, 100)];
    await vi.waitFor(() => expect(server.status().requestBytesReading).toBe(big), { timeout: 5_000, interval: 20 });
    // One peer's share is max(max_request_bytes, budget × per-peer / max_concurrent) = 1 MiB: its next frame is busy.
    const overShare = await trickle(first, server, 64 * 1024, 10);
    expect(await overShare.answer).toMatchObject({ type: 'refusal', value: { code: 'busy', message: expect.stringMatching(/request bytes/) } });
    // A second peer takes the other megabyte: the budget is full, and an honest peer's small request is busy too...
    held.push(await trickle(second, server, big, 100));
    await vi.waitFor(() => expect(server.status().requestBytesReading).toBe(2 * big), { timeout: 5_000, interval: 20 });
    const refused = await refusalOf(honest.forward(server.peerId, frame(), AbortSignal.timeout(10_000)));
    expect(refused.message).toMatch(/refused: this node is reading as many request bytes/);
    // ...until the trickling frames miss their deadline: they are refused, and the budget is back.
    for (const stalled of held) expect(await stalled.answer).toMatchObject({ type: 'refusal', value: { code: 'bad_request', message: expect.stringMatching(/did not arrive in time/) } });
    expect(server.status().requestBytesReading).toBe(0);
    const served = await honest.forward(server.peerId, frame(), AbortSignal.timeout(10_000));
    expect(await readText(served.body)).toBe('served');
    for (const s of [...held, overShare]) s.close();
  });
});

describe('a serving peer that sends heartbeats and never a head', () => {
  const mesh = new TestMesh();
  let requester: MeshNode;
  let stalling: MeshNode;
  afterAll(() => mesh.stopAll());
  beforeAll(async () => {
    // The requester declares a peer dead after 4 of its own heartbeat intervals of silence (8 s here); the stalling
    // peer sends a heartbeat every 200 ms, so only the head timeout can end the wait.
    requester = await mesh.node({ heartbeat_ms: 2_000, stream_head_timeout_ms: 1_500, head_timeout_ms: 60_000 });
    stalling = await mesh.node({ heartbeat_ms: 200, bootstrap: requester.multiaddrs() });
  });

  it('is given up on after stream_head_timeout_ms, as a failure before the first byte, although heartbeats kept coming', async () => {
    let cancelled = false;
    stalling.setForwardHandler(async (_req, { signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      cancelled = true;
      throw signal.reason;
    });
    const err = await refusalOf(requester.forward(stalling.peerId, frame({ stream: true }), AbortSignal.timeout(30_000)));
    expect(err.code).toBe('timeout');
    expect(err.beforeFirstByte).toBe(true);
    expect(err.message).toMatch(/no head within 1500 ms/);
    // The requester reset the stream: the stalling node's handler was cancelled.
    await vi.waitFor(() => expect(cancelled).toBe(true), { timeout: 10_000, interval: 20 });
  });
});
