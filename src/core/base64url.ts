/**
 * base64url without padding (RFC 4648 §5), accepted only in its canonical form. A decoder ignores the unused low
 * bits of the last character (RFC 4648 §3.5 lets an implementation reject them, and this one does): a 64-byte
 * Ed25519 signature has 16 spellings that decode to the same bytes. Anything hashed or compared as text — a receipt
 * chain hashes the whole JWS — must have one spelling, so every signed object this node accepts is re-encoded and
 * compared before it is trusted.
 */
const ALPHABET = /^[A-Za-z0-9_-]*$/;

/** The bytes of `text` when it is canonical base64url (re-encoding gives the same text), undefined otherwise. */
export function decodeCanonicalBase64url(text: string): Buffer | undefined {
  // A length of 4n+1 characters cannot come from any byte string.
  if (!ALPHABET.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

export const isCanonicalBase64url = (text: string): boolean => decodeCanonicalBase64url(text) !== undefined;
