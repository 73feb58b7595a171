import { randomBytes } from 'node:crypto';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { Uint8ArrayList } from 'uint8arraylist';
import { describe, expect, it } from 'vitest';
import { keyObject, noiseCrypto } from '../../../src/mesh/noise-crypto.js';

/**
 * The Noise cipher meshgate gives @chainsafe/libp2p-noise (src/mesh/noise-crypto.ts) must be the very same
 * ChaCha20-Poly1305 as the package's default on both sides of its size cut-over, so a meshgate node and any other
 * libp2p node (or an older meshgate) still read each other's messages.
 */
const bytes = (n: number) => new Uint8Array(randomBytes(n));
/** Either kind of output as one Buffer (the package's Uint8ArrayList type is its own copy's, hence the structural type). */
const flat = (data: Uint8Array | { subarray(): Uint8Array }) => Buffer.from(data instanceof Uint8Array ? data : data.subarray());

describe('noise cipher with a KeyObject per key', () => {
  const key = bytes(32);
  const ad = bytes(32);
  const nonce = new Uint8Array(12);
  nonce[4] = 7;

  for (const size of [0, 100, 511, 512, 1199, 1200, 4096, 65_519]) {
    it(`encrypts and decrypts ${size} bytes exactly as the package's default does`, () => {
      const plaintext = bytes(size);
      const ours = flat(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
      const theirs = flat(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
      expect(ours.equals(theirs)).toBe(true);
      // A list of chunks (how Yamux frames reach Noise) encrypts to the same bytes.
      const list = new Uint8ArrayList(plaintext.subarray(0, size >> 1), plaintext.subarray(size >> 1));
      expect(flat(noiseCrypto.chaCha20Poly1305Encrypt(list as never, nonce, ad, key)).equals(theirs)).toBe(true);
      // Each side reads the other's ciphertext (decrypting may reuse the input's memory: give each its own copy).
      expect(flat(noiseCrypto.chaCha20Poly1305Decrypt(new Uint8Array(theirs), nonce, ad, key, undefined)).equals(Buffer.from(plaintext))).toBe(true);
      expect(flat(noiseCrypto.chaCha20Poly1305Decrypt(new Uint8ArrayList(new Uint8Array(theirs)) as never, nonce, ad, key, undefined)).equals(Buffer.from(plaintext))).toBe(true);
      expect(flat(defaultCrypto.chaCha20Poly1305Decrypt(new Uint8Array(ours), nonce, ad, key, undefined)).equals(Buffer.from(plaintext))).toBe(true);
    });
  }

  for (const size of [100, 4096]) {
    it(`refuses ${size} bytes whose tag, data or associated data were altered`, () => {
      const sealed = flat(noiseCrypto.chaCha20Poly1305Encrypt(bytes(size), nonce, ad, key));
      const tampered = (at: number) => {
        const copy = new Uint8Array(sealed);
        copy[at]! ^= 1;
        return copy;
      };
      expect(() => noiseCrypto.chaCha20Poly1305Decrypt(tampered(sealed.length - 1), nonce, ad, key, undefined)).toThrow();
      expect(() => noiseCrypto.chaCha20Poly1305Decrypt(tampered(0), nonce, ad, key, undefined)).toThrow();
      expect(() => noiseCrypto.chaCha20Poly1305Decrypt(new Uint8Array(sealed), nonce, bytes(32), key, undefined)).toThrow();
      expect(() => noiseCrypto.chaCha20Poly1305Decrypt(new Uint8Array(sealed), nonce, ad, bytes(32), undefined)).toThrow();
    });
  }

  it('imports each cipher key once, not once per message', () => {
    const other = bytes(32);
    expect(keyObject(key)).toBe(keyObject(key));
    expect(keyObject(other)).not.toBe(keyObject(key));
    expect(keyObject(key).export().equals(Buffer.from(key))).toBe(true);
  });
});
