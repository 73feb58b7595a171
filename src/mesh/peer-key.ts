import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';

/** Where the node's libp2p key lives: the peer id is derived from it, so it must survive restarts. */
export function peerKeyPath(dataDir: string): string {
  return join(dataDir, 'mesh', 'peer.key');
}

/**
 * Loads the node's Ed25519 key (libp2p protobuf encoding) or creates it on first start. Written with mode 0600
 * and `wx` so two processes starting at once cannot both create one.
 */
export async function loadOrCreatePeerKey(dataDir: string): Promise<PrivateKey> {
  const path = peerKeyPath(dataDir);
  try {
    const key = privateKeyFromProtobuf(await readFile(path));
    if (key.type !== 'Ed25519') throw new Error(`${path} holds a ${key.type} key; meshgate needs Ed25519`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreatePeerKey(dataDir);
    throw err;
  }
  return key;
}
