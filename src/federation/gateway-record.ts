import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { gatewayIdOf, parsePublicKey, type AdminKey } from '../auth/index.js';
import { canonicalJson } from '../core/index.js';
import { JwsError, verifyCompact, signCompact } from '../ledger/index.js';
import { readCanonicalPayload } from './signed-payload.js';

/**
 * The gateway record (protocol/gateway-record.md): gateway X's admin key states that node `peer` speaks for X. A
 * compact JWS (EdDSA, the admin key), carried inside that node's signed node record, so the binding holds both ways:
 * the admin key names the peer, the peer key signs the node record that carries it. A trusting node learns X's
 * token-signing key from it (X's gateway id is the fingerprint of that key) and which nodes to reserve quota at.
 */
export const GATEWAY_RECORD_TYP = 'mg-gateway-record+jws';
export const GATEWAY_RECORD_VERSION = 1;
/** The longest validity a gateway record may claim (as node records): a leaked one dies within a day. */
export const MAX_GATEWAY_RECORD_VALIDITY_MS = 24 * 3600 * 1000;
/** Tolerated clock difference for `iat`. */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** Its JWS text is at most this long (it rides in a node record). */
export const MAX_GATEWAY_RECORD_CHARS = 1024;

export const gatewayRecordPayloadSchema = z
  .object({
    v: z.literal(GATEWAY_RECORD_VERSION),
    /** The gateway id: first 16 hex digits of SHA-256 of the raw public key (the `mg-{gw}.` token prefix). */
    gw: z.string().regex(/^[0-9a-f]{16}$/),
    /** The token-signing public key, `pk-meshgate-…`. */
    pk: z.string().regex(/^pk-meshgate-[A-Za-z0-9_-]{43}$/),
    /** The libp2p peer id of the node that speaks for the gateway. */
    peer: z.string().min(1).max(128),
    /** Epoch ms. */
    iat: z.number().int().min(0),
    exp: z.number().int().min(0),
  })
  .strict();
export type GatewayRecordPayload = z.infer<typeof gatewayRecordPayloadSchema>;

export type GatewayRecordRejection = 'malformed' | 'wrong_key' | 'bad_signature' | 'peer_mismatch' | 'expired' | 'not_yet_valid' | 'validity_too_long';

export class GatewayRecordError extends Error {
  constructor(readonly reason: GatewayRecordRejection, message: string) {
    super(message);
    this.name = 'GatewayRecordError';
  }
}

/** A verified record: the key that verifies the gateway's tokens and the peer that speaks for it, until `exp`. */
export interface VerifiedGatewayRecord {
  payload: GatewayRecordPayload;
  publicKey: KeyObject;
}

/** Signs the record of `peer` for the gateway of `adminKey`, valid `validityMs` from `now`. */
export function signGatewayRecord(adminKey: AdminKey, peer: string, now: number, validityMs = MAX_GATEWAY_RECORD_VALIDITY_MS): string {
  const payload: GatewayRecordPayload = { v: GATEWAY_RECORD_VERSION, gw: adminKey.gatewayId, pk: adminKey.publicKeyText, peer, iat: now, exp: now + Math.min(validityMs, MAX_GATEWAY_RECORD_VALIDITY_MS) };
  return signCompact(new TextEncoder().encode(canonicalJson(payload)), { alg: 'EdDSA', typ: GATEWAY_RECORD_TYP, kid: payload.gw }, adminKey.privateKey);
}

/**
 * Checks a gateway record carried by the node record of `carrier`, in the order protocol/gateway-record.md lists:
 * shape (one canonical text), the key (its fingerprint is the gateway id, also the JWS `kid`), the signature, the
 * peer (the carrier), the validity window.
 */
export function verifyGatewayRecord(jws: string, carrier: string, now: number): VerifiedGatewayRecord {
  if (jws.length > MAX_GATEWAY_RECORD_CHARS) throw new GatewayRecordError('malformed', 'gateway record is too long');
  const read = readCanonicalPayload(jws, gatewayRecordPayloadSchema);
  if (!read) throw new GatewayRecordError('malformed', 'not a gateway record in its one canonical form');
  const { parsed, payload } = read;
  if (parsed.header.typ !== GATEWAY_RECORD_TYP || parsed.header.kid !== payload.gw) throw new GatewayRecordError('malformed', `expected typ ${GATEWAY_RECORD_TYP} and kid = gw`);
  let publicKey: KeyObject;
  try {
    publicKey = parsePublicKey(payload.pk);
  } catch {
    throw new GatewayRecordError('wrong_key', 'pk is not an Ed25519 public key');
  }
  if (gatewayIdOf(publicKey) !== payload.gw) throw new GatewayRecordError('wrong_key', 'gw is not the fingerprint of pk');
  try {
    verifyCompact(parsed, publicKey);
  } catch (err) {
    if (err instanceof JwsError && err.reason === 'bad_signature') throw new GatewayRecordError('bad_signature', 'signature does not verify with pk');
    throw new GatewayRecordError('malformed', (err as Error).message);
  }
  if (payload.peer !== carrier) throw new GatewayRecordError('peer_mismatch', 'the record names another peer than the node carrying it');
  if (payload.exp <= now) throw new GatewayRecordError('expired', 'gateway record has expired');
  if (payload.iat > now + MAX_CLOCK_SKEW_MS) throw new GatewayRecordError('not_yet_valid', 'gateway record is issued in the future');
  if (payload.exp - payload.iat > MAX_GATEWAY_RECORD_VALIDITY_MS) throw new GatewayRecordError('validity_too_long', 'gateway record validity exceeds 24 h');
  return { payload, publicKey };
}
