import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { configSchema, parseConfig } from '../../../src/config/index.js';
import { GatewayError } from '../../../src/errors/index.js';
import type { ForwardRequestFrame } from '../../../src/mesh/index.js';
import type { CanonicalRequest } from '../../../src/formats/canonical.js';
import { attemptPeer, type PeerForwarder, type PeerResponse } from '../../../src/pipeline/peer-attempt.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { ModelCatalog } from '../../../src/router/model-catalog.js';
import { newMeter } from '../../../src/pipeline/streaming.js';
import type { GatewayRequest } from '../../../src/pipeline/types.js';
import type { AttemptRecord } from '../../../src/router/failover.js';

const routing = configSchema.parse({ providers: [] }).routing;

const request = (): GatewayRequest => ({
  id: 'req_1', format: 'openai', operation: 'chat', body: { model: 'm', messages: [] }, model: 'm', stream: false,
  signal: new AbortController().signal, principal: { kind: 'public' }, receivedAt: Date.now(), hop: { count: 0, visited: [] },
});

const ok = (text: string): PeerResponse => ({
  head: { status: 200, headers: { 'content-type': 'application/json' } },
  body: (async function* () {
    yield new TextEncoder().encode(text);
  })(),
  trailer: Promise.resolve({ usage: { inputTokens: 1, outputTokens: 1 } }),
});

/**
 * A mesh with `known` peers in the cache and `hidden` ones only the DHT knows: `candidates` returns the known peers
 * not excluded, else (the finder's DHT look-up) the hidden ones not excluded.
 */
function fakeMesh(known: string[], hidden: string[], serving: Set<string>) {
  const asked: string[][] = [];
  const forwarded: string[] = [];
  const forwarder: PeerForwarder = {
    selfId: 'self',
    canForward: () => true,
    candidates: async (_model, exclude) => {
      asked.push([...exclude]);
      const fromCache = known.filter((p) => !exclude.includes(p));
      return fromCache.length > 0 ? fromCache : hidden.filter((p) => !exclude.includes(p));
    },
    forward: async (peerId: string, _frame: ForwardRequestFrame) => {
      forwarded.push(peerId);
      if (!serving.has(peerId)) throw new Error('connection reset');
      return ok(`{"served_by":"${peerId}"}`);
    },
  };
  return { forwarder, asked, forwarded };
}

describe('forwarding to mesh peers', () => {
  it('widens the search to the DHT once every known peer has failed', async () => {
    const mesh = fakeMesh(['known-1', 'known-2'], ['far-away'], new Set(['far-away']));
    const attempts: AttemptRecord[] = [];
    const result = await attemptPeer(mesh.forwarder, request(), newMeter(performance.now()), routing, attempts);
    expect(result.peerId).toBe('far-away');
    expect(mesh.forwarded).toEqual(['known-1', 'known-2', 'far-away']);
    expect(mesh.asked).toEqual([['self'], ['self', 'known-1', 'known-2']]);
    expect(attempts.map((a) => [a.target, a.ok])).toEqual([['peer:known-1', false], ['peer:known-2', false], ['peer:far-away', true]]);
  });

  it('stops at max_attempts across both rounds, and reports the peers that failed', async () => {
    const mesh = fakeMesh(['known-1', 'known-2'], ['far-away'], new Set());
    const error = await attemptPeer(mesh.forwarder, request(), newMeter(performance.now()), { ...routing, max_attempts: 2 }, []).catch((e: unknown) => e);
    expect(mesh.forwarded).toEqual(['known-1', 'known-2']);
    expect(error).toMatchObject({ status: 502 });
    expect(String((error as Error).message)).toMatch(/known-1.*known-2/);
  });

  it('answers 404 when no peer serves the model, and keeps a local failure as the answer when there was one', async () => {
    const none = fakeMesh([], [], new Set());
    await expect(attemptPeer(none.forwarder, request(), newMeter(performance.now()), routing, [])).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    const local = new GatewayError('providers_unavailable', 'local providers down');
    await expect(attemptPeer(none.forwarder, request(), newMeter(performance.now()), routing, [], local)).rejects.toBe(local);
  });
});

describe('the request frame sent to a peer', () => {
  it('carries nothing that identifies the client of this node (token id, virtual key, IP, project)', async () => {
    const frames: ForwardRequestFrame[] = [];
    const forwarder: PeerForwarder = {
      selfId: 'self',
      canForward: () => true,
      candidates: async () => ['peer-1'],
      forward: async (_peerId, frame) => {
        frames.push(frame);
        return ok('{}');
      },
    };
    const req: GatewayRequest = { ...request(), principal: { kind: 'virtual_key', id: 'team-secret-label' }, ip: '203.0.113.7', project: 'alpha', source: 'ide' };
    await attemptPeer(forwarder, req, newMeter(performance.now()), routing, []);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.principal).toBeUndefined();
    const wire = JSON.stringify(frames[0]);
    for (const identifying of ['team-secret-label', '203.0.113.7', 'alpha', 'ide']) expect(wire).not.toContain(identifying);
    expect(Object.keys(frames[0]!).sort()).toEqual(['body', 'deadline', 'format', 'hop', 'id', 'model', 'operation', 'stream', 'visited']);
  });
});

describe('the canonical request a forward is measured against', () => {
  const recording = () => {
    const given: Array<CanonicalRequest | undefined> = [];
    const forwarder: PeerForwarder = {
      selfId: 'self',
      canForward: () => true,
      candidates: async () => ['peer-1'],
      forward: async (_peerId, _frame, _signal, canonical) => {
        given.push(canonical);
        return ok('{"id":"x","object":"chat.completion","choices":[]}');
      },
    };
    return { forwarder, given };
  };

  it('is the one the pipeline validated, handed to the forwarder instead of being rebuilt there', async () => {
    const { forwarder, given } = recording();
    const config = parseConfig({}, 'test', {});
    const pipeline = new Pipeline({ config, catalog: new ModelCatalog([]), breakers: new Map(), logger: pino({ level: 'silent' }), peers: forwarder });
    const body = { model: 'remote-model', messages: [{ role: 'user', content: 'hello' }], max_tokens: 77 };
    await pipeline.handle({ ...request(), model: 'remote-model', body });
    expect(given).toHaveLength(1);
    expect(given[0]).toMatchObject({ maxTokens: 77 });
  });

  it('goes with chat requests only (the forwarder measures other operations its own way)', async () => {
    const { forwarder, given } = recording();
    const canonical = { model: 'm', messages: [], maxTokens: 5 } as unknown as CanonicalRequest;
    await attemptPeer(forwarder, request(), newMeter(performance.now()), routing, [], undefined, undefined, canonical);
    await attemptPeer(forwarder, { ...request(), operation: 'embeddings', body: { model: 'm', input: 'x' } }, newMeter(performance.now()), routing, [], undefined, undefined, canonical);
    expect(given).toEqual([canonical, undefined]);
  });
});
