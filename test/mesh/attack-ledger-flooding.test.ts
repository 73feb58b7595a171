import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_PROTOCOL, channelId, costMicros, receiptHash, signDispute, signingKeyFromRaw } from '../../src/ledger/index.js';
import type { MeshNode } from '../../src/mesh/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { TestMesh, recordFrom } from './mesh-nodes.js';

/**
 * Attack class "ledger flooding": a connected peer that sends ledger messages without end — more messages than any
 * honest node would, distinct signed disputes by the hundred, a `heads` answer that repeats a channel. The victim is
 * a whole gateway on loopback; the attackers are mesh nodes of the project's own, speaking the ledger protocol
 * directly.
 */

const PRICE = { input: 2_500_000, output: 10_000_000, cached: 1_250_000 };
const USAGE = { input: 1_000, output: 500, cached: 400 };

const meshConfig = (extra: Record<string, unknown>) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, reconcile_interval_seconds: 0, ...extra });

/** A victim gateway and `count` bare mesh nodes connected to it (each has the victim's record, so streams can open). */
function victimWith(count: number, mesh: Record<string, unknown>, beforeStart?: (node: MeshNode, index: number) => void) {
  const ctx = { peers: [] as MeshNode[] } as { victim: TestGateway; peers: MeshNode[] };
  const nodes = new TestMesh();
  beforeAll(async () => {
    ctx.victim = await startTestGateway([], { mesh: meshConfig(mesh) });
    const victim = ctx.victim.gateway.mesh!;
    for (let i = 0; i < count; i++) {
      let connected: Promise<unknown> = Promise.resolve();
      const node = await nodes.node({ bootstrap: victim.multiaddrs() }, {
        beforeStart: (n) => {
          connected = recordFrom(n, victim.peerId, () => true);
          beforeStart?.(n, i);
        },
      });
      await connected;
      ctx.peers.push(node);
    }
  }, 60_000);
  afterAll(async () => {
    await nodes.stopAll();
    await ctx.victim?.close();
  });
  return ctx;
}

const send = (from: MeshNode, to: string, message: unknown) => from.sendMessage(to, LEDGER_PROTOCOL, message) as Promise<{ ok: boolean; error?: string }>;

describe('more ledger messages than an honest peer sends', () => {
  const ctx = victimWith(2, { ledger_messages_per_second: 2 }); // a burst of 20, then 2 a second

  it('are refused before they are read once the peer is over its allowance, while another peer is still answered', async () => {
    const [attacker, honest] = ctx.peers as [MeshNode, MeshNode];
    const victim = ctx.victim.gateway.mesh!.peerId;
    const started = Date.now();
    const answers: Array<{ ok: boolean; error?: string }> = [];
    for (let i = 0; i < 60; i++) answers.push(await send(attacker, victim, { type: 'dispute', dispute: `junk-${i}` }));
    const seconds = (Date.now() - started) / 1000;
    const refused = answers.filter((a) => /^rate limited/.test(a.error ?? ''));
    const handled = answers.length - refused.length;
    // The burst is let through (the victim answers those itself: the junk does not verify), then about 2 a second.
    expect(handled).toBeGreaterThanOrEqual(20);
    expect(handled).toBeLessThanOrEqual(20 + Math.ceil(2 * seconds) + 1);
    expect(refused.length).toBeGreaterThan(0);
    expect(answers.filter((a) => !/^rate limited/.test(a.error ?? '')).every((a) => a.ok === false && a.error !== undefined)).toBe(true);
    // Each peer has its own allowance: the flood does not shut out anyone else.
    expect(await send(honest, victim, { type: 'heads' })).toEqual({ ok: true, heads: [] });
  });
});

describe('disputes by the hundred, and a heads answer that repeats a channel', () => {
  let fetches = 0;
  const ctx = victimWith(1, {}, (node) => {
    // A hostile counterparty: its heads answer names the channel it shares with the victim 200 times, and it never
    // hands over the receipts it claims.
    void node.handleMessages(LEDGER_PROTOCOL, async (message) => {
      const type = (message as { type?: string }).type;
      if (type === 'heads') return { ok: true, heads: Array.from({ length: 200 }, (_, i) => ({ channel: channelId(node.peerId, victimId()), seq: 400 + i, total: 0, hash: null })) };
      if (type === 'fetch') return (fetches++, { ok: true, receipts: [] });
      return { ok: true, acks: [] };
    });
  });
  const victimId = () => ctx.victim.gateway.mesh!.peerId;

  it('keep one dispute per receipt the victim holds, and none of receipts it never issued', async () => {
    const [attacker] = ctx.peers as [MeshNode];
    const ledger = ctx.victim.gateway.ledger!;
    const receipt = await ledger.issue(attacker.peerId, 'r1', 'gpt-4o', USAGE, PRICE);
    const key = signingKeyFromRaw(attacker.privateKeyBytes);
    const ch = channelId(victimId(), attacker.peerId);
    const dispute = (seq: number, hash: string | null, i: number) => signDispute({ v: 1, ch, seq, rid: `r${seq}`, receipt: hash, reason: `made up ${i}`, iat: i }, key, attacker.peerId);
    const answers: Array<{ ok: boolean; error?: string }> = [];
    for (let i = 0; i < 60; i++) answers.push(await send(attacker, victimId(), { type: 'dispute', dispute: await dispute(1, receiptHash(receipt), i) }));
    for (let i = 0; i < 60; i++) answers.push(await send(attacker, victimId(), { type: 'dispute', dispute: await dispute(2 + i, null, i) }));
    expect(answers.slice(0, 60).every((a) => a.ok)).toBe(true);
    expect(answers.slice(60).every((a) => !a.ok && /names no receipt held here/.test(a.error!))).toBe(true);
    const view = (await ledger.summary()).find((p) => p.peer === attacker.peerId)!;
    expect(view).toMatchObject({ disputes: 1, served: { receipts: 0, totalMicros: 0 } });
    // Disputed, the receipt is still owed as far as the credit limit goes.
    expect(await ledger.unacknowledged(attacker.peerId)).toBe(costMicros(USAGE, PRICE));
  });

  it('a repeated channel in a heads answer costs one fetch', async () => {
    const [attacker] = ctx.peers as [MeshNode];
    const [result] = await ctx.victim.gateway.reconciler!.reconcile(attacker.peerId);
    expect(result).toMatchObject({ peer: attacker.peerId, imported: 0 });
    expect(result!.error).toBeUndefined();
    expect(fetches).toBe(1);
  });
});
