import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { z } from 'zod';
import { canonicalJson, decodeCanonicalBase64url } from '../core/index.js';

/**
 * The signed node record (protocol/node-record.md). JSON, signed with the node's Ed25519 libp2p key over
 * `SIGNING_CONTEXT` + the RFC 8785 canonical JSON of `payload`, so the peer id alone verifies it.
 */
export const RECORD_FORMAT_VERSION = 1;
export const SIGNING_CONTEXT = 'meshgate-node-record/1\n';
/** Records above this size are rejected (a record is stored by up to k=20 DHT servers). */
export const MAX_RECORD_BYTES = 64 * 1024;
/** No record may claim a validity longer than this, whatever its signer wants (bounds a leaked record's life). */
export const MAX_RECORD_VALIDITY_MS = 24 * 3600 * 1000;
/** Tolerated clock difference between the signer and the verifier for `issuedAt`. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export const modelAdvertSchema = z
  .object({
    id: z.string().min(1).max(256),
    contextLength: z.number().int().positive().optional(),
    capabilities: z.array(z.string().min(1).max(64)).max(32),
    /** USD per million tokens. */
    price: z
      .object({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0), cachedInputPerMTok: z.number().min(0).optional() })
      .strict()
      .optional(),
  })
  .strict();

export const recordPayloadSchema = z
  .object({
    v: z.literal(RECORD_FORMAT_VERSION),
    peerId: z.string().min(1),
    addrs: z.array(z.string().max(512)).max(32),
    models: z.array(modelAdvertSchema).max(512),
    capacity: z.object({ maxConcurrent: z.number().int().min(0), inFlight: z.number().int().min(0) }).strict(),
    version: z.string().max(64),
    seq: z.number().int().min(0),
    issuedAt: z.number().int().min(0),
    expiresAt: z.number().int().min(0),
    /** A tombstone published on shutdown: it supersedes the node's last record (higher seq) and serves nothing. */
    withdrawn: z.boolean().optional(),
    /**
     * The gateway record of the gateway this node speaks for (protocol/gateway-record.md): a compact JWS by that
     * gateway's admin key naming this peer. Checked by the federation module where it is used, not here.
     */
    gateway: z.string().max(1024).optional(),
  })
  .strict();

export const signedRecordSchema = z
  .object({
    payload: recordPayloadSchema,
    /** base64url (no padding) Ed25519 signature over SIGNING_CONTEXT + canonicalJson(payload). */
    signature: z.string().regex(/^[A-Za-z0-9_-]+$/),
  })
  .strict();

export type ModelAdvert = z.infer<typeof modelAdvertSchema>;
export type RecordPayload = z.infer<typeof recordPayloadSchema>;
export type SignedRecord = z.infer<typeof signedRecordSchema>;

export type RecordRejection = 'too_large' | 'malformed' | 'wrong_key' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'validity_too_long' | 'peer_id_mismatch';

export class RecordError extends Error {
  constructor(readonly reason: RecordRejection, message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function signingInput(payload: RecordPayload): Uint8Array {
  return encoder.encode(SIGNING_CONTEXT + canonicalJson(payload));
}

/** Signs a payload with the node's key; the bytes returned are what the DHT and the record protocol carry. */
export async function signRecord(payload: RecordPayload, key: PrivateKey): Promise<Uint8Array> {
  const signature = await key.sign(signingInput(payload));
  return encoder.encode(canonicalJson({ payload, signature: Buffer.from(signature).toString('base64url') }));
}

/** The Ed25519 public key inside an Ed25519 peer id (identity multihash), or undefined for other key types. */
function ed25519KeyOf(peerId: string) {
  try {
    const id = peerIdFromString(peerId);
    if (id.type !== 'Ed25519' || !id.publicKey) return undefined;
    return publicKeyFromRaw(id.publicKey.raw);
  } catch {
    return undefined;
  }
}

/**
 * Checks a record for the peer id it is filed under: size, shape, the signature against the key inside that peer
 * id, and the validity window. Throws RecordError naming the first reason it fails.
 */
export async function verifyRecord(bytes: Uint8Array, expectedPeerId: string, now: number): Promise<SignedRecord> {
  if (bytes.byteLength > MAX_RECORD_BYTES) throw new RecordError('too_large', `record of ${bytes.byteLength} bytes exceeds ${MAX_RECORD_BYTES}`);
  let record: SignedRecord;
  let text: string;
  try {
    text = decoder.decode(bytes);
    record = signedRecordSchema.parse(JSON.parse(text));
  } catch {
    throw new RecordError('malformed', 'record is not a valid signed node record');
  }
  // One text per record: whitespace, another key order or a duplicate key (which two parsers may read differently)
  // would give one signed record several byte strings.
  if (text !== canonicalJson(record)) throw new RecordError('malformed', 'record is not in canonical form (RFC 8785)');
  // One spelling per signature: a decoder ignores the last character's unused bits (see core/base64url.ts).
  const signature = decodeCanonicalBase64url(record.signature);
  if (!signature) throw new RecordError('malformed', 'signature is not canonical base64url');
  const { payload } = record;
  if (payload.peerId !== expectedPeerId) throw new RecordError('peer_id_mismatch', 'record names another peer than its key');
  const key = ed25519KeyOf(expectedPeerId);
  if (!key) throw new RecordError('wrong_key', 'peer id does not embed an Ed25519 key');
  const valid = await key.verify(signingInput(payload), signature);
  if (!valid) throw new RecordError('bad_signature', 'signature does not match the key of the peer id');
  if (payload.expiresAt <= now) throw new RecordError('expired', 'record has expired');
  if (payload.issuedAt > now + MAX_CLOCK_SKEW_MS) throw new RecordError('not_yet_valid', 'record is issued in the future');
  if (payload.expiresAt - payload.issuedAt > MAX_RECORD_VALIDITY_MS) throw new RecordError('validity_too_long', 'record validity exceeds 24 h');
  return record;
}

/** Parses without verifying: only for records that already passed verifyRecord (selector input). */
export function readRecordPayload(bytes: Uint8Array): RecordPayload | undefined {
  try {
    return signedRecordSchema.parse(JSON.parse(decoder.decode(bytes))).payload;
  } catch {
    return undefined;
  }
}

/** Highest seq wins, then the later expiry (as IPNS selects). Returns the index of the best record. */
export function selectBestRecord(records: Uint8Array[]): number {
  let best = -1;
  let bestPayload: RecordPayload | undefined;
  records.forEach((bytes, index) => {
    const payload = readRecordPayload(bytes);
    if (!payload) return;
    if (!bestPayload || payload.seq > bestPayload.seq || (payload.seq === bestPayload.seq && payload.expiresAt > bestPayload.expiresAt)) {
      best = index;
      bestPayload = payload;
    }
  });
  return Math.max(best, 0);
}
