import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import type { ICryptoInterface } from '@chainsafe/libp2p-noise';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { Uint8ArrayList } from 'uint8arraylist';

/**
 * Noise's ChaCha20-Poly1305 (RFC 8439) for `@chainsafe/libp2p-noise`, with each cipher key turned into a node:crypto
 * KeyObject once. The default implementation hands node:crypto the raw key bytes for every message of 1,200 bytes or
 * more, and node then tries them as a KeyObject first: an exception built and caught inside node (with its stack
 * trace) and a fresh key import per message — measured here at ~40 µs per message, against ~10 µs with a KeyObject
 * kept for the session's key. With that, node:crypto beats the WebAssembly implementation the default uses for small
 * messages from about 512 bytes up, so the cut-over moves there. Nothing on the wire changes (same cipher, nonce and
 * associated data); only who holds the key: a key is bytes of a Noise CipherState that are never modified (libp2p
 * Noise has no rekey), so the KeyObject lives exactly as long as those bytes (a WeakMap entry).
 */
const NODE_CRYPTO_FROM_BYTES = 512;
const TAG_BYTES = 16;
const ALGORITHM = 'chacha20-poly1305';

const keyObjects = new WeakMap<Uint8Array, KeyObject>();

/** The KeyObject for a Noise cipher key, made on first use and kept while the key's bytes live. */
export function keyObject(k: Uint8Array): KeyObject {
  let key = keyObjects.get(k);
  if (!key) {
    key = createSecretKey(k);
    keyObjects.set(k, key);
  }
  return key;
}

/** The package's own types (its copy of uint8arraylist's declarations is not the one this project resolves). */
type Encrypt = ICryptoInterface['chaCha20Poly1305Encrypt'];
type Decrypt = ICryptoInterface['chaCha20Poly1305Decrypt'];

const encrypt: Encrypt = (plaintext, nonce, ad, k) => {
  if (plaintext.byteLength < NODE_CRYPTO_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
  const cipher = createCipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
  if (plaintext instanceof Uint8Array) {
    const updated = cipher.update(plaintext);
    const final = cipher.final();
    const tag = cipher.getAuthTag();
    return Buffer.concat([updated, final, tag], updated.byteLength + final.byteLength + tag.byteLength);
  }
  const output = new Uint8ArrayList();
  for (const buf of plaintext) output.append(cipher.update(buf));
  const final = cipher.final();
  if (final.byteLength > 0) output.append(final);
  output.append(cipher.getAuthTag());
  return output as unknown as ReturnType<Encrypt>;
};

const decrypt: Decrypt = (ciphertext, nonce, ad, k, dst) => {
  if (ciphertext.byteLength < NODE_CRYPTO_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst);
  const decipher = createDecipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG_BYTES });
  const textLength = ciphertext.byteLength - TAG_BYTES;
  decipher.setAAD(ad, { plaintextLength: textLength });
  decipher.setAuthTag(ciphertext.subarray(textLength));
  if (ciphertext instanceof Uint8Array) {
    const output = decipher.update(ciphertext.subarray(0, textLength));
    const final = decipher.final(); // throws when the tag does not authenticate
    return final.byteLength > 0 ? Buffer.concat([output, final], output.byteLength + final.byteLength) : output;
  }
  const output = new Uint8ArrayList();
  for (const buf of ciphertext.sublist(0, textLength)) output.append(decipher.update(buf));
  const final = decipher.final();
  if (final.byteLength > 0) output.append(final);
  return output as unknown as ReturnType<Decrypt>;
};

/** `noise({ crypto: noiseCrypto })`: the default implementation with the cipher above. */
export const noiseCrypto: ICryptoInterface = { ...defaultCrypto, chaCha20Poly1305Encrypt: encrypt, chaCha20Poly1305Decrypt: decrypt };
