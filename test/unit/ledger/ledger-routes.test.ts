import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger, ledgerRoutes, signingKeyFromRaw } from '../../../src/ledger/index.js';
import { Store } from '../../../src/store/index.js';

const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup) await c();
});

const peerId = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();

describe('GET /v1/mesh/receipts', () => {
  it('filters by peer, and exports CSV with every text cell quoted and formulas neutralised', async () => {
    const key = await generateKeyPair('Ed25519');
    const self = peerIdFromPrivateKey(key).toString();
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-ledger-routes-'));
    const store = await Store.open(dir);
    cleanup.push(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    const ledger = Ledger.open(store, self, signingKeyFromRaw(key.raw));
    const [alice, bob] = [await peerId(), await peerId()];
    const usage = { input: 10, output: 5, cached: 0 };
    const price = { input: 1_000_000, output: 2_000_000, cached: 0 };
    await ledger.issue(alice, 'r1', '=HYPERLINK("http://x")', usage, price);
    await ledger.issue(bob, 'r2', 'gpt-4o', usage, price);
    const app = Fastify();
    await app.register(ledgerRoutes(ledger));

    const json = (await app.inject({ url: `/v1/mesh/receipts?peer=${alice}` })).json() as { data: Array<{ subject: string }> };
    expect(json.data.map((r) => r.subject)).toEqual([alice]);

    const csv = await app.inject({ url: `/v1/mesh/receipts?peer=${alice}&format=csv` });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const [header, row] = csv.body.trim().split('\r\n');
    expect(header).toContain('model');
    expect(row).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(row).not.toContain(bob);
    expect((await app.inject({ url: '/v1/mesh/receipts?format=xml' })).statusCode).toBe(400);
  });
});
