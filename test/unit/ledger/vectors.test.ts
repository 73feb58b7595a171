import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { describe, expect, it } from 'vitest';
import { Ledger, signingKeyFromRaw, verifyAck } from '../../../src/ledger/index.js';
import { Store } from '../../../src/store/index.js';

const vectors = JSON.parse(await readFile(join(import.meta.dirname, '../../../protocol/vectors/receipts/receipts.json'), 'utf8'));

describe('receipt test vectors (protocol/vectors/receipts)', () => {
  it.each(vectors.cases as Array<{ name: string; accepted: string[]; receipt: string; request_id: string; from_peer: string; expect: string }>)('$name → $expect', async (c) => {
    const key = await generateKeyPairFromSeed('Ed25519', Buffer.from(vectors.keys.client.seed, 'hex'));
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-vectors-'));
    const store = await Store.open(dir);
    try {
      const ledger = Ledger.open(store, vectors.keys.client.peer_id, signingKeyFromRaw(key.raw));
      for (const [i, jws] of c.accepted.entries()) expect((await ledger.accept(jws, c.from_peer, `req-${i + 1}`, {})).accepted).toBe(true);
      const result = await ledger.accept(c.receipt, c.from_peer, c.request_id, { price: vectors.price, usage: vectors.usage });
      if (c.expect === 'valid') expect(result.accepted).toBe(true);
      else expect(result).toMatchObject({ accepted: false, reason: expect.stringMatching(new RegExp(`^${c.expect}`)) });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the published acknowledgement verifies against receipt 1', async () => {
    const receipt = await verifyAck(vectors.acknowledgement_of_receipt_1, vectors.cases[0].receipt);
    expect(receipt.seq).toBe(1);
  });
});
