import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { peerIdFromString } from '@libp2p/peer-id';

/**
 * Ed25519 keys for receipts. A node signs with its libp2p peer key, so anyone can verify a receipt from the peer id
 * alone: an Ed25519 peer id embeds the 32-byte public key (libp2p peer-id spec, "identity" multihash).
 */

// ASN.1 prefixes of RFC 8410 Ed25519 keys: PKCS#8 private key (seed follows) and SPKI public key (key follows).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A signing key from a libp2p Ed25519 private key (`raw` is seed ‖ public key, 64 bytes, or the 32-byte seed). */
export function signingKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 64 && raw.length !== 32) throw new Error(`expected an Ed25519 private key, got ${raw.length} bytes`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(raw.subarray(0, 32))]), format: 'der', type: 'pkcs8' });
}

const verifyingKeys = new Map<string, KeyObject>();

/** The public key inside an Ed25519 peer id. Throws for peer ids of other key types (their key is not inline). */
export function verifyingKeyFromPeerId(peerId: string): KeyObject {
  const cached = verifyingKeys.get(peerId);
  if (cached) return cached;
  const id = peerIdFromString(peerId);
  if (id.type !== 'Ed25519' || !id.publicKey) throw new Error(`peer id ${peerId} is not an Ed25519 peer id`);
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(id.publicKey.raw)]), format: 'der', type: 'spki' });
  if (verifyingKeys.size > 10_000) verifyingKeys.clear();
  verifyingKeys.set(peerId, key);
  return key;
}
