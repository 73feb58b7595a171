import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p-node.js';
import { MAX_RECORD_EXCHANGES_PER_PEER, RECORD_EXCHANGE_BURST, RECORD_PROTOCOL, RecordExchange } from '../../src/mesh/record-exchange.js';

/**
 * Record exchange under a hostile peer (protocol/node-record.md, "Record exchange"): a peer opening many
 * `/meshgate/record/1.0.0` streams — over two connections with the same peer id, so libp2p's per-connection count
 * alone cannot stop it — is served MAX_RECORD_EXCHANGES_PER_PEER at once; every other stream is reset unread. The
 * listener waits a minute for a record here, so a stream reset within the test is a refusal, not a timeout.
 */
describe('a peer opening many record-exchange streams', () => {
  const nodes: MeshLibp2p[] = [];
  const OWN = Uint8Array.of(7, 7, 7);
  let victim: MeshLibp2p;
  const received: string[] = [];
  const raw = async (privateKey?: Awaited<ReturnType<typeof generateKeyPair>>) => {
    const node = await createMeshLibp2p({ privateKey: privateKey ?? (await generateKeyPair('Ed25519')), listen: ['/ip4/127.0.0.1/tcp/0'], isAllowed: () => true, clock: Date.now });
    await node.start();
    nodes.push(node);
    return node;
  };
  afterAll(() => Promise.all(nodes.map((n) => n.stop())));
  beforeAll(async () => {
    victim = await raw();
    const exchange = new RecordExchange({ ownRecord: () => OWN, onRecord: async (_bytes, peerId) => void received.push(peerId), timeoutMs: 60_000 });
    // libp2p's per-connection limit as MeshNode sets it.
    await victim.handle(RECORD_PROTOCOL, exchange.handle, { maxInboundStreams: 2 * MAX_RECORD_EXCHANGES_PER_PEER });
  });

  it(`is served ${MAX_RECORD_EXCHANGES_PER_PEER} at a time across its connections; the rest are reset, and the count is released after`, async () => {
    const privateKey = await generateKeyPair('Ed25519');
    const attackers = [await raw(privateKey), await raw(privateKey)];
    const target = victim.getMultiaddrs()[0]!;
    const streams: Stream[] = [];
    // Three per connection: under libp2p's own per-connection limit, over the per-peer rule in total.
    for (const attacker of attackers) {
      for (let i = 0; i < 3; i++) streams.push(await attacker.dialProtocol(target, RECORD_PROTOCOL, { signal: AbortSignal.timeout(5_000) }));
    }
    expect(new Set(attackers.map((a) => a.getConnections(victim.peerId)[0]?.id)).size).toBe(2);
    const framed = streams.map((s) => lpStream(s));
    // Nothing is written yet: a served stream waits for the attacker's record, a refused one is reset at once.
    const outcomes = framed.map((lp) => lp.read({ signal: AbortSignal.timeout(30_000) }).then((bytes) => ({ served: [...bytes.subarray()] }), () => ({ reset: true as const })));
    const resets = new Set<number>();
    outcomes.forEach((o, i) => void o.then((r) => 'reset' in r && resets.add(i)));
    await vi.waitFor(() => expect(resets.size).toBe(streams.length - MAX_RECORD_EXCHANGES_PER_PEER), { timeout: 10_000, interval: 20 });
    // The streams still open are being served: sending a (zero-length) record gets the victim's own.
    for (const [i, lp] of framed.entries()) if (!resets.has(i)) await lp.write(new Uint8Array(0));
    const answers = await Promise.all(outcomes.filter((_, i) => !resets.has(i)));
    expect(answers).toEqual(Array(MAX_RECORD_EXCHANGES_PER_PEER).fill({ served: [...OWN] }));
    // Those finished, the peer is served again (the count went back down), and its record is taken.
    await vi.waitFor(async () => {
      const again = lpStream(await attackers[0]!.dialProtocol(target, RECORD_PROTOCOL, { signal: AbortSignal.timeout(5_000) }));
      await again.write(Uint8Array.of(1));
      expect([...(await again.read({ signal: AbortSignal.timeout(5_000) })).subarray()]).toEqual([...OWN]);
    }, { timeout: 10_000, interval: 50 });
    await vi.waitFor(() => expect(received).toContain(attackers[0]!.peerId.toString()), { timeout: 5_000, interval: 20 });
  });
});

describe('a peer running record exchanges back to back', () => {
  const nodes: MeshLibp2p[] = [];
  afterAll(() => Promise.all(nodes.map((n) => n.stop())));

  it(`is served a burst of ${RECORD_EXCHANGE_BURST}, then one a second; the rest are reset unread`, async () => {
    const start = async () => {
      const node = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], isAllowed: () => true, clock: Date.now });
      await node.start();
      nodes.push(node);
      return node;
    };
    let now = 1_000_000;
    const records: string[] = [];
    const victim = await start();
    const exchange = new RecordExchange({ ownRecord: () => Uint8Array.of(7), onRecord: async (_bytes, peerId) => void records.push(peerId), timeoutMs: 5_000, clock: () => now });
    await victim.handle(RECORD_PROTOCOL, exchange.handle, { maxInboundStreams: 2 * MAX_RECORD_EXCHANGES_PER_PEER });
    const attacker = await start();
    const target = victim.getMultiaddrs()[0]!;
    // One at a time, each finished before the next: the in-flight cap never applies, only the rate.
    const once = async () => {
      const stream = await attacker.dialProtocol(target, RECORD_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
      const lp = lpStream(stream);
      try {
        await lp.write(Uint8Array.of(1));
        const answer = [...(await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray()];
        await stream.close({ signal: AbortSignal.timeout(5_000) });
        return answer.length === 1 ? 'served' : 'wrong answer';
      } catch {
        return 'reset';
      }
    };
    const outcomes: string[] = [];
    for (let i = 0; i < RECORD_EXCHANGE_BURST + 5; i++) outcomes.push(await once());
    expect(outcomes).toEqual([...Array(RECORD_EXCHANGE_BURST).fill('served'), ...Array(5).fill('reset')]);
    // A refused exchange read nothing: only the served ones delivered a record.
    await vi.waitFor(() => expect(records).toHaveLength(RECORD_EXCHANGE_BURST), { timeout: 5_000, interval: 20 });
    now += 1_000;
    expect([await once(), await once()]).toEqual(['served', 'reset']);
  });
});

describe('the dialing side of record exchange', () => {
  it('keeps one exchange per peer in flight: a burst of asks opens one stream, and one more after it', async () => {
    let dials = 0;
    let fail!: () => void;
    const libp2p = {
      dialProtocol: () => {
        dials++;
        return new Promise((_, reject) => (fail = () => reject(new Error('unreachable'))));
      },
    } as unknown as Libp2p;
    const exchange = new RecordExchange({ ownRecord: () => undefined, onRecord: async () => undefined, timeoutMs: 5_000 });
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    const asks = Array.from({ length: 10 }, () => exchange.exchange(libp2p, peer));
    expect(dials).toBe(1);
    fail();
    await vi.waitFor(() => expect(dials).toBe(2), { timeout: 5_000, interval: 10 });
    fail();
    expect(await Promise.all(asks)).toEqual(Array(10).fill(false));
    expect(dials).toBe(2);
  });
});
