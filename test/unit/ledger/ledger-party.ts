import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach } from 'vitest';
import { Ledger, signingKeyFromRaw, type LedgerOptions } from '../../../src/ledger/index.js';
import { Store } from '../../../src/store/index.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((close) => close()));
});

/** One node's side of the receipt protocol: a fresh Ed25519 peer identity and a ledger on a throw-away store. */
export async function ledgerParty(creditLimitMicros?: number, options: LedgerOptions = {}) {
  const key = await generateKeyPair('Ed25519');
  const id = peerIdFromPrivateKey(key).toString();
  const store = await tempStore();
  const signing = signingKeyFromRaw(key.raw);
  return { id, signing, store, ledger: Ledger.open(store, id, signing, { creditLimitMicros, ...options }) };
}

/** A LevelDB store in a throw-away directory, closed and removed after the test. */
export async function tempStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-ledger-'));
  const store = await Store.open(dir);
  cleanup.push(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

/** A throw-away directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-ledger-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
