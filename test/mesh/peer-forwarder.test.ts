import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { peerForwarder } from '../../src/gateway/mesh-bridge.js';
import type { MeshNode } from '../../src/mesh/index.js';
import { attemptPeer } from '../../src/pipeline/peer-attempt.js';
import { newMeter } from '../../src/pipeline/streaming.js';
import { configSchema } from '../../src/config/index.js';
import type { AttemptRecord } from '../../src/router/failover.js';
import { TestMesh } from './mesh-nodes.js';

/** The requesting side of the gateway's mesh bridge against a peer that misbehaves. */
describe('a peer that answers an error and then breaks its stream', () => {
  const mesh = new TestMesh();
  let requester: MeshNode;
  let server: MeshNode;
  beforeAll(async () => {
    requester = await mesh.node();
    server = await mesh.node({ bootstrap: requester.multiaddrs() });
    server.setAdvertisement({ models: [{ id: 'm', capabilities: ['chat'] }, { id: 'm2', capabilities: ['chat'] }], capacity: { maxConcurrent: 4, inFlight: 0 } });
    server.setForwardHandler(async (frame) => ({
      // Model "m": an error answer that breaks; model "m2": a 200 whose body breaks before it is complete.
      head: { status: frame.model === 'm' ? 500 : 200, headers: { 'content-type': 'application/json' } },
      body: (async function* () {
        yield new TextEncoder().encode('{"error":{"message":"serving node broke"}}');
        throw new Error('stream dies before its trailer');
      })(),
      trailer: () => ({}),
    }));
    await vi.waitFor(() => expect(requester.knownModels().has('m')).toBe(true), { timeout: 5_000, interval: 50 });
  });
  afterAll(() => mesh.stopAll());

  /** One non-streamed request for `model` through the bridge, one attempt; resolves the error it ends with. */
  const askPeers = (model: string, attempts: AttemptRecord[]) => {
    const forwarder = peerForwarder(requester, { forward: 'on_failure', maxHops: 1, lookupTimeoutMs: 2_000, logger: pino({ level: 'silent' }) });
    const req = {
      id: `req_${model}`, format: 'openai' as const, operation: 'chat' as const, body: { model, messages: [] }, model, stream: false,
      signal: new AbortController().signal, principal: { kind: 'public' as const }, receivedAt: Date.now(), hop: { count: 0, visited: [] },
    };
    return attemptPeer(forwarder, req, newMeter(performance.now()), { ...configSchema.parse({ providers: [] }).routing, max_attempts: 1 }, attempts).catch((e: unknown) => e);
  };

  it('is reported as that peer failing, with no unhandled rejection of its trailer', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const error = await askPeers('m', []);
      expect(error).toMatchObject({ status: 502 });
      expect(String((error as Error).message)).toContain(server.peerId);
      // The trailer failed with the body, before the error above was returned; node reports a rejection nobody
      // handled once the microtasks of that turn are done, so one turn of the event loop later it would be here.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a complete answer that breaks before its end is a failed attempt (502 naming the peer), not an internal error', async () => {
    const attempts: AttemptRecord[] = [];
    const error = await askPeers('m2', attempts);
    expect(error).toMatchObject({ status: 502 });
    expect(attempts[0]).toMatchObject({ code: 'peer_unavailable' });
  });
});
