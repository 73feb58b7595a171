import { sign, verify, type KeyObject } from 'node:crypto';
import { decodeCanonicalBase64url } from '../core/index.js';

/**
 * Compact JWS (RFC 7515 §7.1) with EdDSA over Ed25519 (RFC 8037), the only form receipts use, on node:crypto's
 * synchronous Ed25519. jose (used for access tokens) goes through WebCrypto, whose every call is a thread-pool job:
 * measured here at 100 µs per signature and 140 µs per verification against 32 µs and 82 µs, on a path that signs
 * or verifies four times per forwarded request. Strict on input, so that one signed object has exactly one text (a
 * receipt chain hashes the whole JWS): three segments of canonical base64url, a protected header that is exactly
 * `{"alg":"EdDSA","typ":…,"kid":…}` in that order and nothing else, a 64-byte signature.
 */

export class JwsError extends Error {
  /** `malformed`: not a JWS in the one accepted form; `bad_signature`: well-formed, but the signature fails. */
  constructor(message: string, readonly reason: 'malformed' | 'bad_signature' = 'malformed') {
    super(message);
    this.name = 'JwsError';
  }
}

export interface JwsHeader {
  alg: 'EdDSA';
  typ: string;
  kid: string;
}

const headerBytes = (header: JwsHeader) => Buffer.from(JSON.stringify({ alg: header.alg, typ: header.typ, kid: header.kid }));

export function signCompact(payload: Uint8Array, header: JwsHeader, key: KeyObject): string {
  const signingInput = `${headerBytes(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  return `${signingInput}.${sign(null, Buffer.from(signingInput), key).toString('base64url')}`;
}

/** A compact JWS taken apart: each segment decoded (canonical base64url only), the header parsed, nothing verified. */
export interface ParsedJws {
  header: Record<string, unknown>;
  rawHeader: Buffer;
  payload: Buffer;
  signature: Buffer;
  /** `<header>.<payload>` as received: the bytes the signature covers. */
  signingInput: string;
}

export function parseCompact(jws: string): ParsedJws {
  const parts = jws.split('.');
  if (parts.length !== 3) throw new JwsError('not a compact JWS');
  const [rawHeader, payload, signature] = parts.map(decodeCanonicalBase64url);
  if (!rawHeader || !payload || !signature) throw new JwsError('not a compact JWS in canonical base64url');
  let header: unknown;
  try {
    header = JSON.parse(rawHeader.toString('utf8'));
  } catch {
    throw new JwsError('protected header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new JwsError('protected header is not a JSON object');
  return { header: header as Record<string, unknown>, rawHeader, payload, signature, signingInput: `${parts[0]}.${parts[1]}` };
}

/** The protected header, decoded but not verified (to find the key that must verify it). */
export function decodeHeader(jws: string): Record<string, unknown> {
  return parseCompact(jws).header;
}

/** Verifies the signature with `key` and returns the payload bytes; throws JwsError otherwise. */
export function verifyCompact(jws: string | ParsedJws, key: KeyObject): Uint8Array {
  const { header, rawHeader, payload, signature, signingInput } = typeof jws === 'string' ? parseCompact(jws) : jws;
  if (header.alg !== 'EdDSA') throw new JwsError('alg must be EdDSA');
  if ('crit' in header) throw new JwsError('crit extensions are not supported');
  if (typeof header.typ !== 'string' || typeof header.kid !== 'string' || !rawHeader.equals(headerBytes(header as unknown as JwsHeader))) {
    throw new JwsError('protected header must be exactly {"alg":"EdDSA","typ":…,"kid":…}');
  }
  if (signature.length !== 64 || !verify(null, Buffer.from(signingInput), key, signature)) throw new JwsError('signature does not verify', 'bad_signature');
  return new Uint8Array(payload);
}
