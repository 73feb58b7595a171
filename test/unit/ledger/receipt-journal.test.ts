import { appendFile, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ledger, RECEIPT_JOURNAL_DIR, ReceiptJournal, receiptHash, signAck, signReceipt, signingKeyFromRaw, type ReceiptPayload } from '../../../src/ledger/index.js';
import { Store } from '../../../src/store/index.js';
import { ledgerParty, tempDir } from './ledger-party.js';

const PRICE = { input: 2_500_000, output: 10_000_000, cached: 0 };
const USAGE = { input: 1_000, output: 500, cached: 0 };
const payloadOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()) as ReceiptPayload;
const key = (p: ReceiptPayload) => `${p.ch}!${String(p.seq).padStart(12, '0')}`;

const open: Store[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

/** A serving node's ledger with a journal, on a store in `dir` (reopened over the same files after a "crash"). */
async function issuer(dir: string, identity: Awaited<ReturnType<typeof identityOf>>) {
  const store = await Store.open(dir);
  open.push(store);
  const journal = await ReceiptJournal.open(join(dir, RECEIPT_JOURNAL_DIR));
  const ledger = Ledger.open(store, identity.id, identity.signing, { journal });
  return { store, ledger, journal, replay: await ledger.recovered(), raw: store.sublevel<{ jws: string; ack?: string }>('receipt') };
}

async function identityOf() {
  const privateKey = await generateKeyPair('Ed25519');
  return { id: peerIdFromPrivateKey(privateKey).toString(), signing: signingKeyFromRaw(privateKey.raw) };
}

const journalText = async (dir: string) => {
  const names = (await readdir(join(dir, RECEIPT_JOURNAL_DIR))).sort();
  return (await Promise.all(names.map((name) => readFile(join(dir, RECEIPT_JOURNAL_DIR, name), 'utf8')))).join('');
};

describe('the issuer’s receipt journal', () => {
  it('holds an issued receipt before issue returns; LevelDB gets it with the next batch, and the journal is emptied then', async () => {
    const dir = await tempDir();
    const node = await issuer(dir, await identityOf());
    const subject = await identityOf();
    const jws = await node.ledger.issue(subject.id, 'req-1', 'gpt-4o', USAGE, PRICE);
    expect(await journalText(dir)).toBe(`${jws}\n`);
    // Not written to LevelDB on the way to the trailer; the ledger itself reads it from memory meanwhile.
    expect(await node.raw.get(key(payloadOf(jws)))).toBeUndefined();
    expect(await node.ledger.headSeq(payloadOf(jws).ch)).toBe(1);
    await vi.waitFor(async () => expect((await node.raw.get(key(payloadOf(jws))))?.jws).toBe(jws), { timeout: 5_000 });
    await vi.waitFor(async () => expect(await journalText(dir)).toBe(''), { timeout: 5_000 });
  });

  it('after a crash before that batch, replays the journal at open: the chain goes on from its receipts and they can be acknowledged', async () => {
    const dir = await tempDir();
    const identity = await identityOf();
    const subject = await identityOf();
    const first = await issuer(dir, identity);
    const issued: string[] = [];
    // The batch's timer never fires: the process dies first, and what the ledger held back in memory is gone.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      for (let i = 1; i <= 3; i++) issued.push(await first.ledger.issue(subject.id, `req-${i}`, 'gpt-4o', USAGE, PRICE));
      await first.store.close();
    } finally {
      vi.useRealTimers();
    }
    open.splice(open.indexOf(first.store), 1);

    const second = await issuer(dir, identity);
    expect(second.replay).toEqual({ replayed: 3, problems: [] });
    for (const jws of issued) expect((await second.raw.get(key(payloadOf(jws))))?.jws).toBe(jws);
    expect(await journalText(dir)).toBe('');
    // Without the replay the next receipt would take sequence number 1 again, one the subject already holds.
    const next = payloadOf(await second.ledger.issue(subject.id, 'req-4', 'gpt-4o', USAGE, PRICE));
    expect(next).toMatchObject({ seq: 4, prev: receiptHash(issued[2]!), total: 4 * payloadOf(issued[0]!).cost });
    expect(await second.ledger.recordAck(await signAck(issued[1]!, subject.signing, subject.id), subject.id)).toBe(true);
    expect((await second.ledger.summary())[0]!.served).toMatchObject({ receipts: 4, lastSeq: 4 });
  });

  it('replays only whole lines of its own receipts that chain on, skipping what the store holds and reporting the rest', async () => {
    const dir = await tempDir();
    const identity = await identityOf();
    const subject = await identityOf();
    const first = await issuer(dir, identity);
    const stored = await first.ledger.issue(subject.id, 'req-1', 'gpt-4o', USAGE, PRICE);
    await first.ledger.flushDeferred();
    await first.store.close();
    open.splice(open.indexOf(first.store), 1);
    const p = payloadOf(stored);
    const chained = await signReceipt({ ...p, seq: 2, rid: 'req-2', total: 2 * p.cost, prev: receiptHash(stored), iat: p.iat + 1 }, identity.signing);
    const gap = await signReceipt({ ...p, seq: 5, rid: 'req-5', total: 5 * p.cost, prev: receiptHash(chained), iat: p.iat + 2 }, identity.signing);
    const foreign = await ledgerParty();
    const notOurs = await foreign.ledger.issue(subject.id, 'req-x', 'gpt-4o', USAGE, PRICE);
    const file = join(dir, RECEIPT_JOURNAL_DIR, '7.log');
    await appendFile(file, `${stored}\n${chained}\nnot a receipt\n${notOurs}\n${gap}\n${chained.slice(0, 40)}`);

    const second = await issuer(dir, identity);
    expect(second.replay.replayed).toBe(1);
    expect(second.replay.problems).toHaveLength(3);
    expect(second.replay.problems.join('\n')).toMatch(/unverifiable entry[\s\S]*unverifiable entry[\s\S]*#5: does not chain onto the store's head \(2\)/);
    expect(await second.ledger.headSeq(p.ch)).toBe(2);
    expect((await second.raw.get(key(payloadOf(chained))))?.jws).toBe(chained);
    await expect(readdir(join(dir, RECEIPT_JOURNAL_DIR))).resolves.toEqual([]);
    // Later generations are numbered after the ones found, so nothing new lands in a file about to be deleted.
    const third = await second.ledger.issue(subject.id, 'req-3', 'gpt-4o', USAGE, PRICE);
    await expect(readdir(join(dir, RECEIPT_JOURNAL_DIR))).resolves.toEqual(['8.log']);
    expect(payloadOf(third)).toMatchObject({ seq: 3, prev: receiptHash(chained) });
  });

  it('an acknowledgement of a receipt still held back is recorded, and writes the receipt with it', async () => {
    const dir = await tempDir();
    const node = await issuer(dir, await identityOf());
    const subject = await identityOf();
    const jws = await node.ledger.issue(subject.id, 'req-1', 'gpt-4o', USAGE, PRICE);
    expect(await node.ledger.recordAck(await signAck(jws, subject.signing, subject.id), subject.id)).toBe(true);
    expect(await node.raw.get(key(payloadOf(jws)))).toMatchObject({ jws, ack: expect.any(String) });
  });

  it('writes a receipt to LevelDB before issue returns when the journal cannot be appended to', async () => {
    const dir = await tempDir();
    const node = await issuer(dir, await identityOf());
    await rm(join(dir, RECEIPT_JOURNAL_DIR), { recursive: true });
    const jws = await node.ledger.issue((await identityOf()).id, 'req-1', 'gpt-4o', USAGE, PRICE);
    expect((await node.raw.get(key(payloadOf(jws))))?.jws).toBe(jws);
  });
});
