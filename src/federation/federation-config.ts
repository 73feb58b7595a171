import { z } from 'zod';

/** A trusted gateway: its id (the 16 hex digits of `mg-{id}.` tokens) or its public key `pk-meshgate-…` (pins the key). */
const trustedGateway = z
  .string()
  .regex(/^(?:[0-9a-f]{16}|pk-meshgate-[A-Za-z0-9_-]{43})$/, 'must be a gateway id (16 hex digits, as in mg-{id}.) or a public key "pk-meshgate-…"');

/**
 * `[federation]`: which other gateways' access tokens this node accepts, and how it holds them to their issuer's
 * limits (README, "Federation"; protocol/reservations.md). Serving reservations for this gateway's own tokens needs no
 * setting: every node with the mesh enabled answers them.
 */
export const federationConfigSchema = z
  .object({
    /** Gateways whose tokens this node serves, quota reserved at the issuer. This gateway's own tokens are always accepted. */
    trusted_gateways: z.array(trustedGateway).max(256).default([]),
    /** How long one reservation round trip to the issuer may take before the next of its nodes is tried. */
    reserve_timeout_ms: z.number().int().min(50).max(60_000).default(3_000),
    /**
     * How long a reservation made at this node (as issuer) holds without settlement; an unsettled one is then charged
     * at its full reserved amounts (the serving node may have served it). Longer than the longest request. With Redis
     * it is kept a second under `state.reservation_ttl_seconds`, after which the backend itself lets a reservation go.
     */
    reservation_ttl_seconds: z.number().int().min(5).max(86_400).default(600),
    /**
     * Reservation messages (reserve, settle, release) each serving peer may send this node per second, with a burst
     * of ten seconds' worth; more are refused unread (the serving node tries another node of this gateway, then
     * answers 503). About two per request served. 0 = no limit.
     */
    reserve_messages_per_second: z.number().min(0).default(1_000),
    /**
     * Requests per token per hour this node admits on its own when no node of the token's issuer can be reached
     * (counted here only, the token's other limits unchecked, a revocation unseen until the issuer is back). 0 (the
     * default): such requests are refused with 503 `issuer_unavailable`.
     */
    offline_budget: z.number().int().min(0).max(10_000).default(0),
    /** Seconds a client is told to wait (`Retry-After`) when no node of the issuer answers. */
    retry_after_seconds: z.number().int().min(1).max(3_600).default(5),
  })
  .strict();

export type FederationConfig = z.infer<typeof federationConfigSchema>;
