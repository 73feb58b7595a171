import { z } from 'zod';
import { Secret } from '../core/index.js';
import { accessRulesShape } from '../policy/access-rules.js';

/** A multiaddr string; parsed and checked by libp2p when the node starts. */
const multiaddrText = z.string().regex(/^\//, 'a multiaddr starts with "/"');

/**
 * `[mesh]`: how this node joins the federation. The PSK arrives as a string (usually "${MESHGATE_PSK}") and is
 * wrapped at once so it cannot leak through logs or JSON; a Secret from the lead's config loader is accepted as is.
 */
export const meshConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    listen: z.array(multiaddrText).default(['/ip4/0.0.0.0/tcp/4930']),
    /** Peers dialled at start: full multiaddrs ending in /p2p/<peer id>. */
    bootstrap: z.array(multiaddrText.regex(/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/, 'a bootstrap address ends with /p2p/<peer id>')).default([]),
    /** Peer ids allowed to connect to this node and to be forwarded to; [] allows any peer that can connect. */
    allow_peers: z.array(z.string().min(1)).default([]),
    /** libp2p private-network key: 64 hex characters, or a whole swarm.key file (/key/swarm/psk/1.0.0/). */
    psk: z.union([z.instanceof(Secret), z.string().transform((value) => new Secret(value))]).optional(),
    forward: z.enum(['on_failure', 'never']).default('on_failure'),
    max_hops: z.number().int().min(0).max(8).default(1),
    /**
     * Unacknowledged receipts (USD) a peer may owe this node before it stops serving that peer (402 until it
     * acknowledges); absent = no limit. See protocol/receipts.md.
     */
    credit_limit_usd: z.number().positive().optional(),
    /**
     * Limits for each peer this node serves forwarded requests for, counted per peer id, like an access token's:
     * requests and tokens per period, a cost cap, a model allowlist. Absent = none (the credit limit still applies).
     */
    peer_limits: z
      .object({ requests: accessRulesShape.requests, tokens: accessRulesShape.tokens, cost: accessRulesShape.cost, models: accessRulesShape.models })
      .strict()
      .default({}),
    /**
     * Automatic ledger reconciliation: with each peer when it is first seen after start, and with every peer this
     * node has receipts with at this interval (missing receipts and lost acknowledgements). 0 = on demand only
     * (POST /v1/mesh/reconcile).
     */
    reconcile_interval_seconds: z.number().int().min(0).default(300),
    /**
     * Ledger messages (acknowledgements, disputes, reconciliation questions) each peer may send per second, with a
     * burst of ten seconds' worth; more are answered with an error before they are read. 0 = no limit.
     */
    ledger_messages_per_second: z.number().min(0).default(50),
    /** Lifetime of a published node record; records carry their own expiry because DHT values have no TTL. */
    record_ttl_seconds: z.number().int().min(10).max(86_400).default(300),
    /** Republish this long before the record expires. */
    refresh_before_seconds: z.number().int().min(1).default(60),
    /** Upper bound of every DHT query (put, get, provide, findProviders). */
    dht_timeout_ms: z.number().int().positive().default(5_000),
    /** Concurrent forwarded requests this node accepts (advertised as capacity, enforced by the forward server). */
    max_concurrent: z.number().int().positive().default(64),
    /**
     * Concurrent forwarded requests (being read or served) one peer may hold, so one peer cannot take every slot.
     * Absent = a quarter of max_concurrent (at least 1).
     */
    max_concurrent_per_peer: z.number().int().positive().optional(),
    /**
     * Bytes of request frames being read at once, across all peers: a frame's declared length is reserved when its
     * length prefix arrives, and a stream that would go over is refused as busy.
     */
    request_read_budget_bytes: z.number().int().positive().default(64 * 1024 * 1024),
    /**
     * The request frame must be complete within request_read_timeout_ms plus its length at
     * request_min_bytes_per_second, so a peer that trickles a large frame holds its slot and budget only briefly.
     */
    request_read_timeout_ms: z.number().int().positive().default(5_000),
    request_min_bytes_per_second: z.number().int().positive().default(512 * 1024),
    /**
     * Longest wait for a peer's head (its status) once the request is sent; heartbeats do not extend it. For a
     * streamed request the head comes with the first upstream chunk; for a complete answer, once it is generated.
     */
    stream_head_timeout_ms: z.number().int().positive().default(60_000),
    head_timeout_ms: z.number().int().positive().default(300_000),
    /** Heartbeat frame interval while a forwarded response has nothing else to send. */
    heartbeat_ms: z.number().int().positive().default(15_000),
    /**
     * Forward over `/meshgate/forward/2.0.0`: one long-lived stream per peer carrying many requests (no stream to
     * open per request). false: this node neither offers nor serves 2.0.0, and every forward gets a 1.0.0 stream.
     */
    forward_sessions: z.boolean().default(true),
    /** Largest request frame accepted from a peer (the request body travels inside it). */
    max_request_bytes: z.number().int().positive().default(32 * 1024 * 1024),
    /** Consecutive failures before a peer is banned; each further ban doubles, from ban_base_ms up to ban_max_ms. */
    ban_after_failures: z.number().int().min(1).default(2),
    ban_base_ms: z.number().int().positive().default(5_000),
    ban_max_ms: z.number().int().positive().default(300_000),
  })
  .strict()
  .superRefine((mesh, ctx) => {
    if (mesh.refresh_before_seconds >= mesh.record_ttl_seconds) {
      ctx.addIssue({ code: 'custom', path: ['refresh_before_seconds'], message: 'must be shorter than record_ttl_seconds' });
    }
    if (mesh.request_read_budget_bytes < mesh.max_request_bytes) {
      ctx.addIssue({ code: 'custom', path: ['request_read_budget_bytes'], message: 'must be at least max_request_bytes, or a request of that size could never be read' });
    }
    if (mesh.max_concurrent_per_peer !== undefined && mesh.max_concurrent_per_peer > mesh.max_concurrent) {
      ctx.addIssue({ code: 'custom', path: ['max_concurrent_per_peer'], message: 'must not exceed max_concurrent' });
    }
  })
  .transform((mesh) => ({ ...mesh, max_concurrent_per_peer: mesh.max_concurrent_per_peer ?? Math.max(1, Math.ceil(mesh.max_concurrent / 4)) }));

export type MeshConfig = z.infer<typeof meshConfigSchema>;
export type MeshConfigInput = z.input<typeof meshConfigSchema>;

/**
 * Settings that do not do what an operator may think, logged at start. On an open mesh (no `psk`, no `allow_peers`)
 * a peer id costs nothing to make: a peer over its credit limit comes back as a new peer with a fresh limit, so the
 * limit bounds what one identity owes, not what the mesh as a whole can take.
 */
export function meshConfigWarnings(mesh: MeshConfig): string[] {
  const open = mesh.psk === undefined && mesh.allow_peers.length === 0;
  if (!open || mesh.credit_limit_usd === undefined) return [];
  return [
    'mesh: credit_limit_usd is set on an open mesh (no psk, no allow_peers): any node can join with a new peer id, and each new id starts with a fresh credit limit. Set psk and allow_peers so the limit binds a known peer.',
  ];
}
