import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACK_BATCH_MS, AckBatcher, ledgerMessageHandler, type LedgerTransport } from '../../../src/ledger/index.js';
import { ledgerParty } from './ledger-party.js';

afterEach(() => {
  vi.useRealTimers();
});

const party = ledgerParty;

const USAGE = { input: 100, output: 50, cached: 0 };
const PRICE = { input: 2_500_000, output: 10_000_000, cached: 1_250_000 };

/** A transport that records what would be sent, and can fail. */
function fakeTransport(answer: () => Promise<unknown> = async () => ({ ok: true })) {
  const sent: Array<{ peerId: string; message: { type: string; acks?: string[] } }> = [];
  const transport: LedgerTransport = { request: async (peerId, message) => (sent.push({ peerId, message: message as { type: string; acks?: string[] } }), answer()) };
  return { mesh: transport, sent };
}

describe('AckBatcher', () => {
  it('sends the acknowledgements of a burst to each peer in one message after the delay', async () => {
    vi.useFakeTimers();
    const { mesh, sent } = fakeTransport();
    const batcher = new AckBatcher(mesh, pino({ level: 'silent' }), 50);
    batcher.add('peer-a', 'ack1');
    batcher.add('peer-a', 'ack2');
    batcher.add('peer-b', 'ack3');
    batcher.add('peer-a', 'ack4');
    expect(sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(50);
    expect(sent).toEqual([
      { peerId: 'peer-a', message: { type: 'ack', acks: ['ack1', 'ack2', 'ack4'] } },
      { peerId: 'peer-b', message: { type: 'ack', acks: ['ack3'] } },
    ]);
  });

  it('by default gathers the acknowledgements of forwards a few milliseconds apart into one message per quarter second', async () => {
    vi.useFakeTimers();
    const { mesh, sent } = fakeTransport();
    const batcher = new AckBatcher(mesh, pino({ level: 'silent' }));
    for (let i = 1; i <= 4; i++) {
      batcher.add('peer-a', `ack${i}`);
      await vi.advanceTimersByTimeAsync(60);
    }
    expect(sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(ACK_BATCH_MS - 4 * 60);
    expect(sent).toEqual([{ peerId: 'peer-a', message: { type: 'ack', acks: ['ack1', 'ack2', 'ack3', 'ack4'] } }]);
  });

  it('sends a batch that could not be delivered again after a delay, and leaves it to reconciliation after the last try', async () => {
    vi.useFakeTimers();
    let failures = 2;
    const { mesh, sent } = fakeTransport(async () => {
      if (failures-- > 0) throw new Error('stream reset');
      return { ok: true };
    });
    const batcher = new AckBatcher(mesh, pino({ level: 'silent' }), 10, [100, 500]);
    batcher.add('peer-a', 'ack1');
    await vi.advanceTimersByTimeAsync(10);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(500);
    expect(sent.map((s) => s.message.acks)).toEqual([['ack1'], ['ack1'], ['ack1']]);

    // Out of tries: no further attempt, however long one waits.
    failures = 10;
    batcher.add('peer-b', 'ack2');
    await vi.advanceTimersByTimeAsync(10 + 100 + 500 + 60_000);
    expect(sent.filter((s) => s.peerId === 'peer-b')).toHaveLength(3);
  });

  it('delivers what waits for one peer at once and resolves when its answer is in, leaving other peers to their timer', async () => {
    vi.useFakeTimers();
    let answered = false;
    const { mesh, sent } = fakeTransport(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      answered = true;
      return { ok: true };
    });
    const batcher = new AckBatcher(mesh, pino({ level: 'silent' }), 1_000);
    batcher.add('peer-a', 'ack1');
    batcher.add('peer-b', 'ack2');
    const delivered = batcher.deliver('peer-a');
    expect(sent).toEqual([{ peerId: 'peer-a', message: { type: 'ack', acks: ['ack1'] } }]);
    await vi.advanceTimersByTimeAsync(20);
    await delivered;
    expect(answered).toBe(true);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent.map((s) => s.peerId)).toEqual(['peer-a', 'peer-b']);
  });

  it('drops a retry still waiting when it closes', async () => {
    vi.useFakeTimers();
    const { mesh, sent } = fakeTransport(async () => { throw new Error('unreachable'); });
    const batcher = new AckBatcher(mesh, pino({ level: 'silent' }), 10, [100]);
    batcher.add('peer-a', 'ack1');
    await vi.advanceTimersByTimeAsync(10);
    await batcher.close();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent).toHaveLength(1);
  });

  it('sends a full page at once, and everything pending on close', async () => {
    const { mesh, sent } = fakeTransport();
    const batcher = new AckBatcher(mesh, pino({ level: 'silent' }), 60_000);
    for (let i = 0; i < 501; i++) batcher.add('peer-a', `ack${i}`);
    expect(sent.map((s) => s.message.acks!.length)).toEqual([500]);
    await batcher.close();
    expect(sent.map((s) => s.message.acks!.length)).toEqual([500, 1]);
  });

  it('logs and keeps going when a peer cannot be reached', async () => {
    const { mesh } = fakeTransport(async () => {
      throw new Error('connection refused');
    });
    const logger = pino({ level: 'silent' });
    const warn = vi.spyOn(logger, 'warn');
    const batcher = new AckBatcher(mesh, logger, 60_000);
    batcher.add('peer-a', 'ack');
    await batcher.close();
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ peer: 'peer-a', acks: 1 }), expect.stringMatching(/next reconciliation/));
  });
});

describe('the ledger message handler', () => {
  it('records each acknowledgement of a batch on its own and names the ones it refused', async () => {
    const server = await party();
    const client = await party();
    const jws = [await server.ledger.issue(client.id, 'r1', 'm', USAGE, PRICE), await server.ledger.issue(client.id, 'r2', 'm', USAGE, PRICE)];
    const acks: string[] = [];
    for (const [i, receipt] of jws.entries()) {
      const result = await client.ledger.accept(receipt, server.id, `r${i + 1}`, {});
      if (result.accepted) acks.push(result.ack);
    }
    const handle = ledgerMessageHandler(server.ledger);
    const forged = `${acks[1]!.split('.').slice(0, 2).join('.')}.${'A'.repeat(86)}`;
    const answer = (await handle({ type: 'ack', acks: [acks[0], forged] }, client.id)) as { ok: boolean; error?: string };
    expect(answer.ok).toBe(false);
    expect(answer.error).toMatch(/^1 of 2 acknowledgements refused/);
    expect((await server.ledger.openReceipts(client.id)).map((r) => r.seq)).toEqual([2]);
    // Only the subject of the channel may acknowledge its receipts.
    const stranger = await party();
    expect(await handle({ type: 'ack', acks: [acks[1]] }, stranger.id)).toMatchObject({ ok: false, error: expect.stringMatching(/not the subject/) });
    expect(await handle({ type: 'ack', acks: [acks[1]] }, client.id)).toEqual({ ok: true });
    expect(await server.ledger.unacknowledged(client.id)).toBe(0);
    expect(await handle({ type: 'ack', acks: [] }, client.id)).toEqual({ ok: false, error: 'malformed ledger message' });
  });

  it('answers reconciliation questions only about channels the asking peer is party to', async () => {
    const server = await party();
    const client = await party();
    const stranger = await party();
    await server.ledger.issue(client.id, 'r1', 'm', USAGE, PRICE);
    const handle = ledgerMessageHandler(server.ledger);
    const channel = `${server.id}>${client.id}`;
    expect(await handle({ type: 'heads' }, stranger.id)).toEqual({ ok: true, heads: [] });
    expect(await handle({ type: 'fetch', channel, after: 0 }, stranger.id)).toEqual({ ok: false, error: 'not a party of that channel' });
    expect(await handle({ type: 'fetch_acks', channel, seqs: [1] }, stranger.id)).toEqual({ ok: false, error: 'not a party of that channel' });
    expect(((await handle({ type: 'fetch', channel, after: 0 }, client.id)) as { receipts: unknown[] }).receipts).toHaveLength(1);
  });
});
