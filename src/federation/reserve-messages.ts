import { z } from 'zod';

/**
 * `/meshgate/reserve/1.0.0` (protocol/reservations.md): one length-prefixed JSON message each way per stream, from
 * the node serving a token of gateway X (the serving node) to one of X's nodes (the issuing node).
 */
export const RESERVE_PROTOCOL = '/meshgate/reserve/1.0.0';
/** Largest reservation message read from a peer (a token and a receipt of at most 8 KiB each, and the rest). */
export const MAX_RESERVE_MESSAGE_BYTES = 32 * 1024;
/** Reservation messages of one serving peer handled at once (each at most MAX_RESERVE_MESSAGE_BYTES: 8 MiB in all). */
export const MAX_RESERVE_MESSAGES_IN_FLIGHT_PER_PEER = 256;

const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const requestId = z.string().min(1).max(200);
const jws = z.string().min(1).max(8_192);

export const reserveRequestSchema = z
  .object({
    type: z.literal('reserve'),
    /** The access token itself: the issuer verifies it again (it is the authority) — it never goes further. */
    token: z.string().min(1).max(8_192),
    rid: requestId,
    /** The client address as the serving node saw it (per-IP quotas are counted at the issuer by it). */
    ip: z.string().max(64).optional(),
    model: z.string().min(1).max(256).optional(),
    /** Estimated tokens (input + max output) and cost (micro-USD) of the request: the worst case reserved. */
    tokens: uint,
    cost: uint,
    /** False when the serving node knows no price for the model (a token with a cost limit is then refused). */
    priced: z.boolean(),
    /** For the issuer's records only. */
    format: z.string().max(32).optional(),
    operation: z.string().max(32).optional(),
    stream: z.boolean().optional(),
  })
  .strict();

export const settleRequestSchema = z
  .object({
    type: z.literal('settle'),
    tid: z.string().min(1).max(64),
    rid: requestId,
    reservation: jws,
    /** Real usage, at most what was reserved. */
    usage: z.object({ input: uint, output: uint, cached: uint, cost: uint }).strict(),
    model: z.string().min(1).max(256).optional(),
    status: z.number().int().min(100).max(599).optional(),
    /** The peer that served the request, when the serving node forwarded it. */
    peer: z.string().max(128).optional(),
    /** The serving node's receipt to the issuing node, for work done with its own providers (protocol/receipts.md). */
    receipt: jws.optional(),
  })
  .strict();

export const releaseRequestSchema = z.object({ type: z.literal('release'), tid: z.string().min(1).max(64), rid: requestId, reservation: jws }).strict();

/**
 * A reserve whose answer never came (timed out, stream broken): whatever reservation that request id holds here, or
 * will hold once the reserve in progress completes, is released. Authenticated by the connection: a peer cancels
 * only its own reservations.
 */
export const cancelRequestSchema = z.object({ type: z.literal('cancel'), rid: requestId }).strict();

export const reserveMessageSchema = z.discriminatedUnion('type', [reserveRequestSchema, settleRequestSchema, releaseRequestSchema, cancelRequestSchema]);

/** A refusal: the GatewayError the serving node answers its client with (code, message, headers), or a protocol error. */
export const reserveRefusalSchema = z
  .object({
    ok: z.literal(false),
    code: z.string().max(64).optional(),
    error: z.string().max(2_000),
    retryAfter: z.number().min(0).optional(),
    headers: z.record(z.string().max(64), z.string().max(256)).optional(),
  })
  .strict();

export const reserveGrantSchema = z
  .object({ ok: z.literal(true), reservation: jws, headers: z.record(z.string().max(64), z.string().max(256)) })
  .strict();

export const settledSchema = z.object({ ok: z.literal(true) }).strict();

export type ReserveRequest = z.infer<typeof reserveRequestSchema>;
export type SettleRequest = z.infer<typeof settleRequestSchema>;
export type ReleaseRequest = z.infer<typeof releaseRequestSchema>;
export type CancelRequest = z.infer<typeof cancelRequestSchema>;
export type ReserveMessage = z.infer<typeof reserveMessageSchema>;
export type ReserveRefusal = z.infer<typeof reserveRefusalSchema>;
