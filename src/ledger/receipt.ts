import { createHash, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { JwsError, parseCompact, signCompact, verifyCompact, type ParsedJws } from './compact-jws.js';
import { verifyingKeyFromPeerId } from './keys.js';
import { decodeReceiptPayload } from './receipt-payload.js';

/**
 * Signed usage receipts (protocol/receipts.md). A receipt is a compact JWS (EdDSA) signed by the serving peer,
 * `kid` = its peer id; the requester acknowledges it by signing the very same payload bytes (`typ` ack), or refuses
 * it with a signed dispute. Amounts are integer micro-USD; prices are micro-USD per million tokens.
 */

export const RECEIPT_VERSION = 1;
export const RECEIPT_TYP = 'mg-receipt+jws';
export const ACK_TYP = 'mg-receipt-ack+jws';
export const DISPUTE_TYP = 'mg-receipt-dispute+jws';

const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const receiptPayloadSchema = z
  .object({
    v: z.literal(RECEIPT_VERSION),
    iss: z.string().min(1),
    sub: z.string().min(1),
    ch: z.string().min(1),
    seq: z.number().int().min(1),
    rid: z.string().min(1).max(200),
    model: z.string().min(1).max(200),
    // `input` includes `cached`: a claim of more cached than input tokens would be priced in full by the cost formula
    // while the usage bound, which bounds input and output, never looks at it.
    usage: z.object({ input: uint, output: uint, cached: uint }).strict().refine((u) => u.cached <= u.input, 'usage.cached must not exceed usage.input, which includes it'),
    price: z.object({ input: uint, output: uint, cached: uint }).strict(),
    cost: uint,
    total: uint,
    prev: z.string().nullable(),
    iat: uint,
  })
  .strict();

export type ReceiptPayload = z.infer<typeof receiptPayloadSchema>;

export const disputePayloadSchema = z
  .object({ v: z.literal(RECEIPT_VERSION), ch: z.string().max(200), seq: z.number().int().min(1), rid: z.string().max(200), receipt: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a receipt hash (base64url SHA-256)').nullable(), reason: z.string().max(500), iat: uint })
  .strict();
export type DisputePayload = z.infer<typeof disputePayloadSchema>;

/** The channel of a serving peer toward a requesting peer: one sequence of receipts, one running total. */
export const channelId = (issuer: string, subject: string) => `${issuer}>${subject}`;

/** The two parties of a channel id (issuer, subject), or undefined for anything that is not one. */
export function channelParties(channel: string): [issuer: string, subject: string] | undefined {
  const parties = channel.split('>');
  return parties.length === 2 && parties[0] && parties[1] ? [parties[0], parties[1]] : undefined;
}

/** Whether `peer` is one of the two parties of `channel`. */
export const isPartyOf = (channel: string, peer: string) => channelParties(channel)?.includes(peer) ?? false;

/**
 * The channel and sequence number a receipt or acknowledgement JWS claims, read WITHOUT verifying it: only to decide
 * where to look (which channel to lock, whether a gap must be fetched first). Undefined when it does not parse.
 */
export function claimedPosition(jws: string): { channel: string; seq: number } | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as { ch?: unknown; seq?: unknown };
    return typeof payload.ch === 'string' && typeof payload.seq === 'number' ? { channel: payload.ch, seq: payload.seq } : undefined;
  } catch {
    return undefined;
  }
}

/** Hash that chains receipts: base64url(SHA-256(compact JWS)). */
export const receiptHash = (jws: string) => createHash('sha256').update(jws).digest('base64url');

/**
 * Cost of a usage at a price, in micro-USD: uncached input at the input price, cached input at the cached price
 * (the input price when none is set), output at the output price; one rounding at the end, half up.
 */
export function costMicros(usage: ReceiptPayload['usage'], price: ReceiptPayload['price']): number {
  const uncached = Math.max(0, usage.input - usage.cached);
  const cachedPrice = price.cached || price.input;
  const numerator = uncached * price.input + usage.cached * cachedPrice + usage.output * price.output;
  return Math.floor((numerator + 500_000) / 1_000_000);
}

/**
 * The one serialisation of a receipt payload (protocol/receipts.md, "Receipt"): keys in the table's order, no
 * whitespace, strings and numbers as JSON.stringify (and RFC 8785) writes them. Both sides sign and hash these bytes,
 * and a received payload must be exactly them (see `requireCanonical`).
 */
function payloadBytes(p: ReceiptPayload): Uint8Array {
  const ordered = {
    v: p.v, iss: p.iss, sub: p.sub, ch: p.ch, seq: p.seq, rid: p.rid, model: p.model,
    usage: { input: p.usage.input, output: p.usage.output, cached: p.usage.cached },
    price: { input: p.price.input, output: p.price.output, cached: p.price.cached },
    cost: p.cost, total: p.total, prev: p.prev, iat: p.iat,
  };
  return new TextEncoder().encode(JSON.stringify(ordered));
}

/** The one serialisation of a dispute payload, in the order protocol/receipts.md lists its keys. */
function disputeBytes(d: DisputePayload): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: d.v, ch: d.ch, seq: d.seq, rid: d.rid, receipt: d.receipt, reason: d.reason, iat: d.iat }));
}

/**
 * Parses signed payload bytes with `schema` and requires them to be the canonical serialisation of what they parse
 * to: no whitespace, no duplicate keys, no `7.5e3` for 7500, no reordered keys. Otherwise two byte strings would
 * carry one meaning (two hashes for one receipt), or a duplicate key would mean one thing here and another to an
 * auditor's parser.
 */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function requireCanonical<T>(bytes: Uint8Array, parse: (value: unknown) => T, serialise: (value: T) => Uint8Array, what: string): T {
  let parsed: T;
  try {
    parsed = parse(JSON.parse(strictUtf8.decode(bytes)));
  } catch {
    throw new ReceiptError('malformed', `${what} payload does not match the schema`);
  }
  if (Buffer.compare(Buffer.from(bytes), Buffer.from(serialise(parsed))) !== 0) throw new ReceiptError('malformed', `${what} payload is not in canonical form`);
  return parsed;
}

/** The payload as the schema parses it; throws the schema's own error (with what is wrong) for one it refuses. */
function checkedPayload(value: unknown): ReceiptPayload {
  return decodeReceiptPayload(value) ?? receiptPayloadSchema.parse(value);
}

export async function signReceipt(payload: ReceiptPayload, key: KeyObject): Promise<string> {
  checkedPayload(payload);
  return signCompact(payloadBytes(payload), { alg: 'EdDSA', typ: RECEIPT_TYP, kid: payload.iss }, key);
}

export class ReceiptError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
    this.name = 'ReceiptError';
  }
}

/** Verifies a JWS of our `typ`, signed by the peer named in its `kid` (and `expectedSigner` when given). */
async function verifySigned(jws: string, typ: string, expectedSigner?: string): Promise<{ payload: Uint8Array; kid: string }> {
  let parsed: ParsedJws;
  try {
    parsed = parseCompact(jws);
  } catch (err) {
    throw new ReceiptError('malformed', (err as Error).message);
  }
  const { header } = parsed;
  if (header.alg !== 'EdDSA' || header.typ !== typ || typeof header.kid !== 'string') throw new ReceiptError('malformed', `expected alg EdDSA and typ ${typ} with a kid`);
  if (expectedSigner !== undefined && header.kid !== expectedSigner) throw new ReceiptError('wrong_signer', `signed by ${header.kid}, expected ${expectedSigner}`);
  let key: KeyObject;
  try {
    key = verifyingKeyFromPeerId(header.kid);
  } catch {
    throw new ReceiptError('wrong_signer', `kid ${header.kid} is not an Ed25519 peer id`);
  }
  try {
    return { payload: verifyCompact(parsed, key), kid: header.kid };
  } catch (err) {
    if (err instanceof JwsError && err.reason === 'malformed') throw new ReceiptError('malformed', err.message);
    throw new ReceiptError('bad_signature', 'signature does not verify with the key of the peer id in kid');
  }
}

/** Verifies a receipt's signature and shape; `kid` must be its issuer. Chain and amounts are checked by the ledger. */
export async function verifyReceipt(jws: string, expectedIssuer?: string): Promise<ReceiptPayload> {
  const { payload, kid } = await verifySigned(jws, RECEIPT_TYP, expectedIssuer);
  const parsed = requireCanonical(payload, checkedPayload, payloadBytes, 'receipt');
  if (parsed.iss !== kid) throw new ReceiptError('wrong_signer', 'kid is not the issuer');
  if (parsed.ch !== channelId(parsed.iss, parsed.sub)) throw new ReceiptError('malformed', 'channel does not name issuer and subject');
  return parsed;
}

/** The requester's acknowledgement: the receipt's payload bytes, signed by the subject. */
export async function signAck(receiptJws: string, key: KeyObject, subject: string): Promise<string> {
  const payload = Buffer.from(receiptJws.split('.')[1]!, 'base64url');
  return signCompact(payload, { alg: 'EdDSA', typ: ACK_TYP, kid: subject }, key);
}

/** Checks an acknowledgement: signed by the receipt's subject, over exactly the receipt's payload bytes. */
export async function verifyAck(ackJws: string, receiptJws: string): Promise<ReceiptPayload> {
  const receipt = await verifyReceipt(receiptJws);
  await verifyAckSignature(ackJws, receiptJws, receipt.sub);
  return receipt;
}

/**
 * The acknowledgement half of `verifyAck`, for a receipt already trusted (one this node issued and stored): signed
 * by `subject`, over exactly the receipt's payload bytes.
 */
export async function verifyAckSignature(ackJws: string, receiptJws: string, subject: string): Promise<void> {
  const { payload } = await verifySigned(ackJws, ACK_TYP, subject);
  if (Buffer.compare(Buffer.from(payload), Buffer.from(receiptJws.split('.')[1]!, 'base64url')) !== 0) {
    throw new ReceiptError('mismatch', 'acknowledgement does not cover the receipt payload');
  }
}

export async function signDispute(dispute: DisputePayload, key: KeyObject, signer: string): Promise<string> {
  return signCompact(disputeBytes(disputePayloadSchema.parse(dispute)), { alg: 'EdDSA', typ: DISPUTE_TYP, kid: signer }, key);
}

export async function verifyDispute(jws: string, expectedSigner?: string): Promise<DisputePayload & { signer: string }> {
  const { payload, kid } = await verifySigned(jws, DISPUTE_TYP, expectedSigner);
  return { ...requireCanonical(payload, (v) => disputePayloadSchema.parse(v), disputeBytes, 'dispute'), signer: kid };
}
