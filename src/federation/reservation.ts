import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../core/index.js';
import { JwsError, signCompact, verifyCompact, verifyingKeyFromPeerId } from '../ledger/index.js';
import { readCanonicalPayload } from './signed-payload.js';

/**
 * A signed reservation (protocol/reservations.md, "Reservation"): node `iss` of gateway `gw` holds the worst case of
 * one request (`rid`) of token `tid`, served by peer `srv`, until `exp`. A compact JWS by the issuing node's peer key
 * (EdDSA, `kid` = its peer id), so the serving node verifies it from the peer id alone and the issuing node knows at
 * settlement that it issued it.
 */
export const RESERVATION_TYP = 'mg-reservation+jws';
export const RESERVATION_VERSION = 1;

const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const reservationPayloadSchema = z
  .object({
    v: z.literal(RESERVATION_VERSION),
    gw: z.string().regex(/^[0-9a-f]{16}$/),
    iss: z.string().min(1).max(128),
    srv: z.string().min(1).max(128),
    tid: z.string().min(1).max(64),
    rid: z.string().min(1).max(200),
    /** The worst case held: one request, tokens (input + max output), cost in micro-USD. */
    amt: z.object({ requests: uint, tokens: uint, cost: uint }).strict(),
    iat: uint,
    exp: uint,
  })
  .strict();
export type ReservationPayload = z.infer<typeof reservationPayloadSchema>;

export type ReservationRejection = 'malformed' | 'forged';

export class ReservationError extends Error {
  constructor(readonly reason: ReservationRejection, message: string) {
    super(message);
    this.name = 'ReservationError';
  }
}

export function signReservation(payload: ReservationPayload, key: KeyObject): string {
  return signCompact(new TextEncoder().encode(canonicalJson(reservationPayloadSchema.parse(payload))), { alg: 'EdDSA', typ: RESERVATION_TYP, kid: payload.iss }, key);
}

/** Verifies a reservation signed by `issuer` (its `kid` and `iss`); throws ReservationError. Binding is the caller's to check. */
export function verifyReservation(jws: string, issuer: string): ReservationPayload {
  const read = readCanonicalPayload(jws, reservationPayloadSchema);
  if (!read) throw new ReservationError('malformed', 'not a reservation in its one canonical form');
  const { parsed, payload } = read;
  if (parsed.header.typ !== RESERVATION_TYP) throw new ReservationError('malformed', `expected typ ${RESERVATION_TYP}`);
  if (parsed.header.kid !== issuer || payload.iss !== issuer) throw new ReservationError('forged', 'the reservation was not issued by this node');
  try {
    verifyCompact(parsed, verifyingKeyFromPeerId(issuer));
  } catch (err) {
    throw new ReservationError(err instanceof JwsError && err.reason === 'malformed' ? 'malformed' : 'forged', 'the reservation signature does not verify');
  }
  return payload;
}
