import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { TokenRegistry, type TokenRecord } from '../../../src/auth/index.js';
import { parseConfig } from '../../../src/config/index.js';
import { GatewayError } from '../../../src/errors/index.js';
import type { ForwardTrailer } from '../../../src/mesh/index.js';
import type { PeerForwarder } from '../../../src/pipeline/peer-attempt.js';
import { QuotaExceededError, QuotaStore, type CounterRecord, type QuotaCharge, type QuotaWrite } from '../../../src/policy/index.js';
import type { UsageRecord } from '../../../src/records/index.js';
import { RevokedDuringReserveError } from '../../../src/state/index.js';
import { QualityAggregate, signalsConfigSchema, type QualitySignal, type QualitySnapshot } from '../../../src/signals/index.js';
import { checkWorkersConfig, IpcChannel, PrimaryHub, PrimaryState, tokenReplica, workerCount, type IpcPort } from '../../../src/workers/index.js';
import { qualityReplica } from '../../../src/workers/worker-state.js';
import { peerForwarderViaPrimary, servePeerForwards } from '../../../src/workers/peer-bridge.js';
import { makeRecord } from '../records/make-record.js';

/**
 * Two ends of an IPC pipe in one process: what one side sends, the other receives on a later turn, deep-copied the
 * way node:cluster's "advanced" serialization copies it (structured clone: Infinity, Uint8Array survive).
 */
function pipePair(): { primary: IpcPort & { disconnect(): void }; worker: IpcPort; sent: unknown[] } {
  const a = new EventEmitter();
  const b = new EventEmitter();
  let connected = true;
  const sent: unknown[] = [];
  const end = (self: EventEmitter, other: EventEmitter) => Object.assign(self, {
    send: (message: unknown) => {
      if (!connected) throw Object.assign(new Error('Channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' });
      sent.push(message);
      const copy = structuredClone(message);
      setImmediate(() => other.emit('message', copy));
      return true;
    },
  }) as unknown as IpcPort;
  const primary = Object.assign(end(a, b), {
    disconnect: () => {
      connected = false;
      a.emit('disconnect');
      b.emit('disconnect');
    },
  });
  return { primary, worker: end(b, a), sent };
}

const memoryDb = () => {
  const data = new Map<string, CounterRecord>();
  return {
    iterator: async function* () {
      yield* data.entries();
    },
    batch: async (ops: QuotaWrite[]) => {
      for (const op of ops) if (op.type === 'put') data.set(op.key, op.value);
      else data.delete(op.key);
    },
  };
};
const tokenDb = () => ({ iterator: async function* (): AsyncGenerator<[string, TokenRecord]> {}, put: async () => undefined, del: async () => undefined });
const logger = pino({ level: 'silent' });
const limit = (n: number): QuotaCharge => ({ scope: 'token:t1', metric: 'requests', limit: n, period: 'hour', amount: 1 });

async function connected(parts: { tokens?: TokenRegistry } = {}) {
  const { primary, worker, sent } = pipePair();
  const counters = await QuotaStore.open(memoryDb());
  const tokens = parts.tokens ?? (await TokenRegistry.replica([], tokenDb()));
  const written: string[] = [];
  const records: UsageRecord[] = [];
  const hub = new PrimaryHub({ counters, tokens, logger, writeRecord: async (r) => (written.push(r.id), records.push(r), true) });
  const primaryChannel = new IpcChannel(primary, { timeoutMs: 2_000 });
  hub.attach(1, primaryChannel);
  const workerChannel = new IpcChannel(worker, { timeoutMs: 2_000 });
  return { hub, counters, tokens, written, records, primary, workerChannel, primaryChannel, state: new PrimaryState(workerChannel, 'embedded'), sent };
}

describe('IPC channel', () => {
  it('rebuilds the errors callers test for: QuotaExceededError (with its state), RevokedDuringReserveError, GatewayError', async () => {
    const { primary, worker } = pipePair();
    const server = new IpcChannel(primary, { timeoutMs: 1_000 });
    const client = new IpcChannel(worker, { timeoutMs: 1_000 });
    const state = { charge: limit(1), used: 1, remaining: 0, resetAt: Infinity };
    server.handle('quota', () => { throw new QuotaExceededError(state); });
    server.handle('revoked', () => { throw new RevokedDuringReserveError(); });
    server.handle('gateway', () => { throw new GatewayError('state_unavailable', 'down', { retryAfter: 2 }); });
    const quota = await client.call('quota').catch((err: unknown) => err);
    expect(quota).toBeInstanceOf(QuotaExceededError);
    expect((quota as QuotaExceededError).state.resetAt).toBe(Infinity);
    await expect(client.call('revoked')).rejects.toBeInstanceOf(RevokedDuringReserveError);
    const gateway = (await client.call('gateway').catch((err: unknown) => err)) as GatewayError;
    expect(gateway).toBeInstanceOf(GatewayError);
    expect([gateway.code, gateway.status, gateway.headers['retry-after']]).toEqual(['state_unavailable', 503, '2']);
  });

  it('parses the records a worker sends where they arrive: defaults filled in, a record off the schema refused', async () => {
    const { workerChannel, records } = await connected();
    const { reasoning_tokens: _absent, ...older } = makeRecord({ id: 'w1', time: Date.UTC(2026, 10, 1) });
    const credential = makeRecord({ id: 'w2', time: Date.UTC(2026, 10, 1), principal: { kind: 'token', id: 'sk-live-abcdef' } });
    expect(await workerChannel.call<boolean[]>('records.write', [older, credential])).toEqual([true, false]);
    expect(records.map((r) => [r.id, r.reasoning_tokens])).toEqual([['w1', 0]]);
  });

  it('fails closed with primary_unavailable when the other side is gone or does not answer', async () => {
    const { primary, worker } = pipePair();
    const server = new IpcChannel(primary, { timeoutMs: 50 });
    const client = new IpcChannel(worker, { timeoutMs: 50 });
    server.handle('never', () => new Promise(() => undefined));
    const silent = (await client.call('never').catch((err: unknown) => err)) as GatewayError;
    expect([silent.code, silent.status]).toEqual(['primary_unavailable', 503]);
    const waiting = client.call('never', null).catch((err: unknown) => err);
    primary.disconnect();
    expect(((await waiting) as GatewayError).code).toBe('primary_unavailable');
    expect(((await client.call('never').catch((err: unknown) => err)) as GatewayError).code).toBe('primary_unavailable');
  });
});

describe('the primary counts for its workers', () => {
  it('admits exactly the limit from several workers at once', async () => {
    const { primary, worker } = pipePair();
    const counters = await QuotaStore.open(memoryDb());
    const hub = new PrimaryHub({ counters, tokens: TokenRegistry.replica([], tokenDb()), logger, writeRecord: async () => true });
    // Two workers on one pipe pair would share it; two pairs are two workers.
    const second = pipePair();
    hub.attach(1, new IpcChannel(primary, { timeoutMs: 2_000 }));
    hub.attach(2, new IpcChannel(second.primary, { timeoutMs: 2_000 }));
    const states = [new PrimaryState(new IpcChannel(worker, { timeoutMs: 2_000 }), 'embedded'), new PrimaryState(new IpcChannel(second.worker, { timeoutMs: 2_000 }), 'embedded')];
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => states[i % 2]!.quotas.reserve([limit(7)])));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(7);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof QuotaExceededError)).toHaveLength(33);
  });

  it('releases what a worker reserved and never settled when it exits, and settles once', async () => {
    const { hub, counters, state } = await connected();
    const held = await state.quotas.reserve([limit(2)]);
    const settled = await state.quotas.reserve([limit(2)]);
    await settled.settle({});
    await settled.settle({});
    await expect(state.quotas.reserve([limit(2)])).rejects.toBeInstanceOf(QuotaExceededError);
    expect(held.states[0]!.used).toBe(1);
    await hub.detach(1);
    expect((await counters.peek({ ...limit(2) })).used).toBe(1);
  });

  it('refuses a reservation for a token revoked after the worker verified it', async () => {
    const { tokens, state } = await connected();
    await tokens.revoke('t1', Date.now());
    await expect(state.quotas.reserve([limit(5)], { tokenId: 't1' })).rejects.toBeInstanceOf(RevokedDuringReserveError);
    expect(await state.revocations.isRevoked('t1')).toBe(true);
    expect(await state.revocations.isRevoked('t2')).toBe(false);
  });

  it('keeps a worker\'s token directory in step: a revocation reaches the replica, a token seen there reaches the primary', async () => {
    const { tokens, workerChannel } = await connected();
    const replica = tokenReplica(workerChannel, tokens.list());
    await tokens.revoke('gone', 1_000);
    await vi.waitFor(() => expect(replica.isRevoked('gone')).toBe(true));
    const record: TokenRecord = { id: 'seen-here', payload: null, issuedAt: null, expiresAt: null, source: 'seen' };
    await replica.learn(record);
    await vi.waitFor(() => expect(tokens.has('seen-here')).toBe(true));
  });
});

describe('routing quality in workers', () => {
  it('a worker scores targets on the primary\'s signals: the snapshot it starts from, then every signal added or replaced', async () => {
    const { primary, worker } = pipePair();
    const signals = signalsConfigSchema.parse({ min_weight: 0.5 });
    const aggregate = QualityAggregate.forConfig(signals, Date.now);
    const signal = (id: string, score: number, target = 'openai'): QualitySignal => ({
      request_id: id, time: Date.now(), signal: 'thumbs_up', score, note: null, by: { kind: 'admin', id: null }, principal: { kind: 'public', id: null },
      project: null, requested_model: 'gpt-4o', model: 'gpt-4o', target, profile: null,
    } as QualitySignal);
    aggregate.add(signal('r1', 1));
    const hub = new PrimaryHub({ counters: await QuotaStore.open(memoryDb()), tokens: TokenRegistry.replica([], tokenDb()), quality: aggregate, logger, writeRecord: async () => true });
    hub.attach(1, new IpcChannel(primary, { timeoutMs: 2_000 }));
    const channel = new IpcChannel(worker, { timeoutMs: 2_000 });
    const hello = await channel.call<{ quality: QualitySnapshot }>('hello');
    const replica = qualityReplica(channel, signals, hello.quality);
    expect(replica.scoreOf('openai', 'gpt-4o')).toBeCloseTo(aggregate.scoreOf('openai', 'gpt-4o')!, 9);
    aggregate.add(signal('r2', 0, 'anthropic'));
    aggregate.remove(signal('r1', 1));
    await vi.waitFor(() => expect(replica.scoreOf('anthropic', 'gpt-4o')).toBe(0));
    expect(replica.scoreOf('openai', 'gpt-4o')).toBeUndefined();
  });
});

describe('mesh forwards through the primary', () => {
  it('streams the peer\'s body with at most a window of chunks ahead of the reader, then the trailer', async () => {
    const { primary, worker } = pipePair();
    const chunks = Array.from({ length: 40 }, (_, i) => new TextEncoder().encode(`chunk ${i}\n`));
    let produced = 0;
    let consumed = 0;
    /** How far the peer's side ever got ahead of the reader. */
    let maxLead = 0;
    const trailer: ForwardTrailer = { usage: { inputTokens: 1, outputTokens: 40 } } as ForwardTrailer;
    const upstream: PeerForwarder = {
      selfId: 'self', canForward: () => true, candidates: async () => ['peer-b'],
      forward: async () => ({
        head: { status: 200, headers: { 'content-type': 'text/event-stream' } },
        body: (async function* () {
          for (const chunk of chunks) {
            produced++;
            maxLead = Math.max(maxLead, produced - consumed);
            yield chunk;
          }
        })(),
        trailer: Promise.resolve(trailer),
      }),
    };
    servePeerForwards(new IpcChannel(primary, { timeoutMs: 2_000 }), upstream);
    const bridged = peerForwarderViaPrimary(new IpcChannel(worker, { timeoutMs: 2_000 }), { selfId: 'self', forward: 'on_failure', maxHops: 3 });
    expect(await bridged.candidates('m', [], AbortSignal.timeout(1_000))).toEqual(['peer-b']);
    const response = await bridged.forward('peer-b', { model: 'm' } as never, new AbortController().signal);
    expect(response.head.status).toBe(200);
    const text: string[] = [];
    for await (const chunk of response.body) {
      consumed++;
      text.push(new TextDecoder().decode(chunk));
    }
    expect(text).toEqual(chunks.map((c) => new TextDecoder().decode(c)));
    // Without the credit window the peer's side would run all 40 chunks ahead of a reader that waits on IPC.
    expect(maxLead).toBeLessThanOrEqual(18);
    expect(await response.trailer).toEqual(trailer);
  });
});

describe('a worker\'s forward before the peer\'s head', () => {
  const head = { status: 200, headers: {} };
  const bridge = (upstream: PeerForwarder) => {
    const { primary, worker } = pipePair();
    // An IPC time-out of 20 ms: calls the primary bounds itself (forwards) must not be failed by it.
    servePeerForwards(new IpcChannel(primary, { timeoutMs: 20 }), upstream);
    return peerForwarderViaPrimary(new IpcChannel(worker, { timeoutMs: 20 }), { selfId: 'self', forward: 'on_failure', maxHops: 3 });
  };

  it('waits for a slow peer\'s head longer than the IPC time-out (the mesh bounds it)', async () => {
    const bridged = bridge({
      selfId: 'self', canForward: () => true, candidates: async () => [],
      forward: () => new Promise((resolve) => setTimeout(() => resolve({ head, body: (async function* () {})(), trailer: Promise.resolve({} as ForwardTrailer) }), 80)),
    });
    const response = await bridged.forward('peer-b', { model: 'm' } as never, new AbortController().signal);
    expect(response.head.status).toBe(200);
  });

  it('aborts the forward at the primary when the worker\'s client leaves', async () => {
    let primarySignal: AbortSignal | undefined;
    const bridged = bridge({
      selfId: 'self', canForward: () => true, candidates: async () => [],
      forward: (_peer, _frame, signal) => new Promise((_resolve, reject) => {
        primarySignal = signal;
        signal.addEventListener('abort', () => reject(new Error('aborted at the primary')), { once: true });
      }),
    });
    const client = new AbortController();
    const forwarding = bridged.forward('peer-b', { model: 'm' } as never, client.signal).catch((err: Error) => err);
    await vi.waitFor(() => expect(primarySignal).toBeDefined());
    client.abort();
    await vi.waitFor(() => expect(primarySignal!.aborted).toBe(true));
    expect(((await forwarding) as Error).message).toBe('aborted at the primary');
  });
});

describe('server.workers', () => {
  const config = (server: Record<string, unknown>) => parseConfig({ server, storage: { dir: '/tmp/x' } }, 'test.toml', {});

  it('defaults to 1; "auto" is one per core', () => {
    expect(workerCount(config({}))).toBe(1);
    expect(workerCount(config({ workers: 'auto' }))).toBeGreaterThanOrEqual(1);
    expect(() => config({ workers: 0 })).toThrow(/workers/);
  });

  it('refuses more workers than max_concurrent (they share it), naming both settings', () => {
    expect(() => checkWorkersConfig(config({ workers: 4, max_concurrent: 3 }), 4)).toThrow(/server\.workers = 4.*server\.max_concurrent = 3/);
    expect(() => checkWorkersConfig(config({ workers: 4, max_concurrent: 4 }), 4)).not.toThrow();
  });
});
