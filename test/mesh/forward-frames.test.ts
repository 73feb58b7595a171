import type { Connection } from '@libp2p/interface';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { streamPair } from '@libp2p/utils';
import pino from 'pino';
import { Uint8ArrayList } from 'uint8arraylist';
import { describe, expect, it } from 'vitest';
import { encodeFrame, type Frame, type ForwardRequestFrame, type RefusalCode } from '../../src/mesh/forward-frames.js';
import { ForwardServer, type ForwardServerOptions } from '../../src/mesh/forward-server.js';
import { FrameReader } from '../../src/mesh/frame-reader.js';

const SELF = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
const REQUESTER = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));

function request(overrides: Partial<ForwardRequestFrame> = {}): ForwardRequestFrame {
  return { id: 'r1', format: 'anthropic', operation: 'chat', model: 'm', stream: false, body: { a: 1 }, hop: 1, visited: [REQUESTER.toString()], deadline: Date.now() + 10_000, ...overrides };
}

function server(overrides: Partial<ForwardServerOptions> = {}) {
  let calls = 0;
  const forwardServer = new ForwardServer({
    selfId: SELF.toString(), maxHops: 1, maxConcurrent: 4, maxRequestBytes: 1024 * 1024, heartbeatMs: 1_000, requestTimeoutMs: 2_000,
    isAllowed: () => true,
    handler: () => async () => {
      calls++;
      return { head: { status: 200, headers: {} }, body: (async function* () {})(), trailer: () => ({}) };
    },
    logger: pino({ level: 'silent' }),
    ...overrides,
  });
  return { forwardServer, calls: () => calls };
}

/** Sends raw bytes as the requester and returns every frame the server answers with. */
async function exchange(forwardServer: ForwardServer, bytes: Uint8Array | Uint8ArrayList): Promise<Frame[]> {
  const [outbound, inbound] = await streamPair();
  const served = forwardServer.handle(inbound, { remotePeer: REQUESTER } as Connection);
  const reader = new FrameReader(outbound, 1024 * 1024);
  outbound.send(bytes);
  await outbound.close();
  const frames: Frame[] = [];
  for (let frame = await reader.next(); frame; frame = await reader.next()) frames.push(frame);
  await served;
  return frames;
}

describe('forward frames', () => {
  it('round-trips every frame type, whatever way the bytes are cut', async () => {
    const frames: Frame[] = [
      { type: 'request', value: request() },
      { type: 'head', value: { status: 200, headers: { 'content-type': 'application/json' } } },
      { type: 'data', value: new Uint8Array([0, 1, 2, 255]) },
      { type: 'heartbeat' },
      { type: 'trailer', value: { usage: { inputTokens: 1, outputTokens: 2 } } },
      { type: 'refusal', value: { code: 'busy', message: 'full' } },
    ];
    const bytes = new Uint8ArrayList(...frames.map(encodeFrame)).subarray();
    const [outbound, inbound] = await streamPair();
    const reader = new FrameReader(inbound, 1024);
    for (let i = 0; i < bytes.byteLength; i += 7) outbound.send(bytes.subarray(i, i + 7));
    await outbound.close();
    const received: Frame[] = [];
    for (let frame = await reader.next(); frame; frame = await reader.next()) received.push(frame);
    expect(received).toEqual(frames);
  });

  it('rejects a frame longer than the reader allows before buffering it', async () => {
    const [outbound, inbound] = await streamPair();
    const reader = new FrameReader(inbound, 16);
    outbound.send(encodeFrame({ type: 'data', value: new Uint8Array(17) }).subarray(0, 4));
    await expect(reader.next()).rejects.toThrow('exceeds 16');
  });
});

describe('forward server refusals', () => {
  const cases: Array<[RefusalCode, Partial<ForwardRequestFrame>, Partial<ForwardServerOptions>]> = [
    ['cycle', { visited: [REQUESTER.toString(), SELF.toString()] }, {}],
    ['hop_limit', { hop: 2 }, {}],
    // The hop count is not taken on trust: a path of two nodes is at least two hops, whatever `hop` says.
    ['hop_limit', { hop: 0, visited: [REQUESTER.toString(), 'another-node'] }, {}],
    ['hop_limit', { hop: 1, visited: ['another-node'] }, {}],
    ['timeout', { deadline: Date.now() - 1 }, {}],
    ['not_allowed', {}, { isAllowed: () => false }],
    ['busy', {}, { maxConcurrent: 0 }],
    ['unavailable', {}, { handler: () => undefined }],
  ];
  it.each(cases)('refuses with %s and never runs the handler', async (code, frameOverrides, serverOverrides) => {
    const { forwardServer, calls } = server(serverOverrides);
    const frames = await exchange(forwardServer, encodeFrame({ type: 'request', value: request(frameOverrides) }));
    expect(frames).toEqual([{ type: 'refusal', value: expect.objectContaining({ code }) }]);
    expect(calls()).toBe(0);
  });

  it('refuses a stream that does not start with a well-formed request frame', async () => {
    const { forwardServer, calls } = server();
    const frames = await exchange(forwardServer, encodeFrame({ type: 'head', value: { status: 200, headers: {} } }));
    expect(frames).toEqual([{ type: 'refusal', value: expect.objectContaining({ code: 'bad_request' }) }]);
    const garbage = await exchange(forwardServer, new Uint8Array([3, 0x01, 0x7b, 0x7d]));
    expect(garbage).toEqual([{ type: 'refusal', value: expect.objectContaining({ code: 'bad_request' }) }]);
    expect(calls()).toBe(0);
  });

  it('reads only as many request frames at once as it could serve: a stream that never finishes its frame holds a slot', async () => {
    const { forwardServer, calls } = server({ maxConcurrent: 2, requestTimeoutMs: 1_000 });
    // Two streams announce a large frame and never send it.
    const stalled = await Promise.all([0, 1].map(async () => {
      const [outbound, inbound] = await streamPair();
      outbound.send(Uint8Array.of(0x80, 0x80, 0x10)); // varint length 262,144: a frame that never comes
      return { outbound, served: forwardServer.handle(inbound, { remotePeer: REQUESTER } as Connection) };
    }));
    // A third is refused at once, before anything of it is read.
    const frames = await exchange(forwardServer, encodeFrame({ type: 'request', value: request() }));
    expect(frames).toEqual([{ type: 'refusal', value: expect.objectContaining({ code: 'busy' }) }]);
    // Once the stalled streams time out, their slots are free again.
    await Promise.all(stalled.map((s) => s.served));
    expect((await exchange(forwardServer, encodeFrame({ type: 'request', value: request() }))).map((f) => f.type)).toEqual(['head', 'trailer']);
    expect(calls()).toBe(1);
    await Promise.all(stalled.map((s) => s.outbound.close().catch(() => undefined)));
  });

  it('serves a request that passes the checks', async () => {
    const { forwardServer, calls } = server();
    const frames = await exchange(forwardServer, encodeFrame({ type: 'request', value: request() }));
    expect(frames.map((f) => f.type)).toEqual(['head', 'trailer']);
    expect(calls()).toBe(1);
  });

  it('serves a request whose deadline is beyond what a timer holds (capped, not overflowing to 1 ms)', async () => {
    let handlerSignal: AbortSignal | undefined;
    const { forwardServer } = server({
      handler: () => async (_req, ctx) => {
        handlerSignal = ctx.signal;
        await new Promise((r) => setTimeout(r, 20));
        return { head: { status: 200, headers: {} }, body: (async function* () {})(), trailer: () => ({}) };
      },
    });
    const frames = await exchange(forwardServer, encodeFrame({ type: 'request', value: request({ deadline: Date.now() + 2 ** 33 }) }));
    expect(frames.map((f) => f.type)).toEqual(['head', 'trailer']);
    expect(handlerSignal?.aborted).toBe(false);
  });
});
