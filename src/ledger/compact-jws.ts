import { sign, verify, type KeyObject } from 'node:crypto';

/**
 * Compact JWS (RFC 7515 §7.1) with EdDSA over Ed25519 (RFC 8037), the only form receipts use, on node:crypto's
 * synchronous Ed25519. jose (used for access tokens) goes through WebCrypto, whose every call is a thread-pool job:
 * measured here at 100 µs per signature and 140 µs per verification against 32 µs and 82 µs, on a path that signs
 * or verifies four times per forwarded request. Strict on input: three base64url segments, a JSON object header
 * with `alg` EdDSA and no `crit`, a 64-byte signature.
 */

const SEGMENT = /^[A-Za-z0-9_-]*$/;

export class JwsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwsError';
  }
}

export interface JwsHeader {
  alg: 'EdDSA';
  typ: string;
  kid: string;
}

export function signCompact(payload: Uint8Array, header: JwsHeader, key: KeyObject): string {
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  return `${signingInput}.${sign(null, Buffer.from(signingInput), key).toString('base64url')}`;
}

/** The protected header, decoded but not verified (to find the key that must verify it). */
export function decodeHeader(jws: string): Record<string, unknown> {
  const parts = jws.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw new JwsError('not a compact JWS');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
  } catch {
    throw new JwsError('protected header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new JwsError('protected header is not a JSON object');
  return header as Record<string, unknown>;
}

/** Verifies the signature with `key` and returns the payload bytes; throws JwsError otherwise. */
export function verifyCompact(jws: string, key: KeyObject): Uint8Array {
  const header = decodeHeader(jws);
  if (header.alg !== 'EdDSA') throw new JwsError('alg must be EdDSA');
  if ('crit' in header) throw new JwsError('crit extensions are not supported');
  const [h, p, s] = jws.split('.') as [string, string, string];
  const signature = Buffer.from(s, 'base64url');
  if (signature.length !== 64 || !verify(null, Buffer.from(`${h}.${p}`), key, signature)) throw new JwsError('signature does not verify');
  return new Uint8Array(Buffer.from(p, 'base64url'));
}
