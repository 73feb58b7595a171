import { z } from 'zod';
import { OPERATIONS, WIRE_FORMATS } from '../core/index.js';

/**
 * Ids and labels only: a principal id is a token id (jti), a virtual key's label or a peer id. Anything shaped like
 * a credential (a bearer key, a JWT) is refused, so a caller's mistake cannot store a secret in a record.
 */
const SECRET_SHAPES: readonly RegExp[] = [/^sk-/i, /^Bearer\s/i, /^eyJ[\w-]+\.eyJ[\w-]+\./];
const principalIdSchema = z
  .string()
  .min(1)
  .max(128)
  .refine((id) => !SECRET_SHAPES.some((shape) => shape.test(id)), 'must be an id or label, never a credential');

const LABEL_CHARACTERS = /^[^\u0000-\u001f\u007f]+$/;
const COUNTRY = /^[A-Z]{2}$/;

/** Header-supplied labels (x-project, x-source): printable, bounded, no control characters (they delimit index keys). */
export const labelSchema = z.string().min(1).max(128).regex(LABEL_CHARACTERS, 'no control characters');

export const attemptSchema = z.object({
  /** Provider id, or `peer:<peerId>` for a mesh forward. */
  target: z.string(),
  ok: z.boolean(),
  status: z.number().int().optional(),
  code: z.string().optional(),
  /** Error message as the router recorded it (secret-free by the GatewayError rule). */
  error: z.string().optional(),
  duration_ms: z.number().nonnegative(),
  /** Providers with several keys: the keys the attempt used, by label (never by value), and each refusal's status. */
  keys: z.array(z.object({ key: z.string(), status: z.number().int().optional() })).optional(),
});

/**
 * One record per request: who asked, what was asked and served, by whom, how it went and what it cost.
 * Stored in LevelDB and returned as-is by the records API, so this schema is also the API's record shape.
 */
export const usageRecordSchema = z.object({
  /** The request id, also sent to the client as `x-request-id`. */
  id: z.string().min(1).max(128),
  /** When the request was received, epoch ms UTC. */
  time: z.number().int().nonnegative(),
  project: labelSchema.nullable(),
  source: labelSchema.nullable(),
  principal: z.object({
    kind: z.enum(['public', 'token', 'virtual_key', 'admin', 'peer']),
    id: principalIdSchema.nullable(),
  }),
  client_format: z.enum(WIRE_FORMATS),
  operation: z.enum(OPERATIONS),
  requested_model: z.string(),
  /** The model that served it (after mapping/failover), null when nothing did. */
  model: z.string().nullable(),
  /** Provider id that served it locally; null when a peer served it or nothing did. */
  provider: z.string().nullable(),
  attempts: z.array(attemptSchema),
  /** Times the router moved on to another target after a failure. */
  failovers: z.number().int().nonnegative(),
  status: z.number().int(),
  error_type: z.string().nullable(),
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  /** Part of prompt_tokens read from a prompt cache. */
  cached_tokens: z.number().int().nonnegative(),
  /** Part of prompt_tokens written to a prompt cache (Anthropic). */
  cache_write_tokens: z.number().int().nonnegative(),
  /** Part of completion_tokens spent on reasoning, where the provider reports it (absent in records written before). */
  reasoning_tokens: z.number().int().nonnegative().default(0),
  /** The usage is the gateway's estimate (the upstream reported none, e.g. an aborted stream). */
  usage_estimated: z.boolean(),
  /** Integer micro-dollars; null when the model has no known price (`priced: false`), never a silent 0. */
  cost_micros: z.number().int().nonnegative().nullable(),
  priced: z.boolean(),
  latency_ms: z.number().nonnegative().nullable(),
  ttft_ms: z.number().nonnegative().nullable(),
  stream: z.boolean(),
  /** `local` (a provider of this node), `peer` (forwarded through the mesh to `peer`) or `cache` (a stored answer). */
  served_by: z.enum(['local', 'peer', 'cache', 'none']),
  /** The response cache was in play: `hit` (answered from it, at no cost: tokens and cost are 0) or `miss`. */
  cache: z.enum(['hit', 'miss']).nullable().default(null),
  peer: z.string().nullable(),
  /** Sanitization findings: type, where in the request, and what was done — never the matched text. */
  findings: z.array(z.object({ type: z.string(), location: z.string(), action: z.enum(['redacted', 'blocked']) }).strict()),
  client_aborted: z.boolean(),
  /** The client's address as per-IP quotas count it (IPv4 as is, IPv6 as its /64); null when unknown, absent in records from before it. */
  client_ip: z.string().max(64).nullable().optional(),
  /** ISO 3166-1 alpha-2 country of `client_ip` from the country database; null when unknown (private ranges). */
  country: z.string().regex(COUNTRY).nullable().optional(),
  /** The routing profile the request was planned with (header, body, or the credential's default); null when none. */
  profile: z.string().min(1).max(64).nullable().default(null),
});

export type UsageRecord = z.infer<typeof usageRecordSchema>;
/** A record as written (records stored before `reasoning_tokens` existed lack it). */
export type UsageRecordInput = z.input<typeof usageRecordSchema>;
export type AttemptEntry = z.infer<typeof attemptSchema>;

const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0;
const isDuration = (n: number | null) => n === null || n >= 0;
const isLabel = (label: string | null | undefined, max = 128) => label == null || (label.length > 0 && label.length <= max && LABEL_CHARACTERS.test(label));

/**
 * The rules of `usageRecordSchema` that its TypeScript type cannot carry, checked on a record this node built from
 * typed values (`usageRecordFromOutcome`) before it is stored: bounded ids and labels without control characters,
 * counts that are non-negative integers, durations that are not negative, and never a credential where an id goes.
 * A few comparisons instead of a full parse (which costs about ten times as much, on every request); records that
 * come from elsewhere (a worker process) are parsed with the schema where they arrive. Throws on a violation (a bug
 * in the caller); the message names the field, never its value.
 */
export function assertOwnRecord(record: UsageRecord): void {
  const fault = ownRecordFault(record);
  if (fault) throw new TypeError(`usage record refused: ${fault}`);
}

function looksLikeSecret(id: string): boolean {
  for (let i = 0; i < SECRET_SHAPES.length; i++) if (SECRET_SHAPES[i]!.test(id)) return true;
  return false;
}

/** Exactly the keys type, location and action (counted without the array `Object.keys` would make). */
function isBareFinding(finding: object): boolean {
  let keys = 0;
  for (const key in finding) {
    if (!Object.hasOwn(finding, key)) continue;
    if (++keys > 3 || (key !== 'type' && key !== 'location' && key !== 'action')) return false;
  }
  return keys === 3;
}

function ownRecordFault(r: UsageRecord): string | undefined {
  if (r.id.length === 0 || r.id.length > 128) return 'id must be 1-128 characters';
  if (!isCount(r.time)) return 'time must be a non-negative integer';
  if (!isLabel(r.project) || !isLabel(r.source)) return 'project and source must be 1-128 characters without control characters';
  const principal = r.principal.id;
  if (principal !== null && (principal.length === 0 || principal.length > 128)) return 'principal.id must be 1-128 characters';
  if (principal !== null && looksLikeSecret(principal)) return 'principal.id must be an id or label, never a credential';
  if (!isCount(r.failovers) || !Number.isSafeInteger(r.status)) return 'failovers and status must be integers';
  // Checked one by one, without an array of them or an iterator: this runs for every request.
  if (!isCount(r.prompt_tokens) || !isCount(r.completion_tokens) || !isCount(r.cached_tokens) || !isCount(r.cache_write_tokens) || !isCount(r.reasoning_tokens)) {
    return 'token counts must be non-negative integers';
  }
  if (r.cost_micros !== null && !isCount(r.cost_micros)) return 'cost_micros must be a non-negative integer or null';
  if (!isDuration(r.latency_ms) || !isDuration(r.ttft_ms)) return 'latency_ms and ttft_ms must not be negative';
  const { attempts, findings } = r;
  for (let i = 0; i < attempts.length; i++) if (!(attempts[i]!.duration_ms >= 0)) return 'attempt duration_ms must not be negative';
  // Type, location and action only: never the matched text (the schema's object is strict).
  for (let i = 0; i < findings.length; i++) if (!isBareFinding(findings[i]!)) return 'a finding has only type, location and action';
  if (r.client_ip != null && r.client_ip.length > 64) return 'client_ip must be at most 64 characters';
  if (r.country != null && !COUNTRY.test(r.country)) return 'country must be an ISO 3166-1 alpha-2 code';
  if (r.profile !== null && (r.profile.length === 0 || r.profile.length > 64)) return 'profile must be 1-64 characters';
  return undefined;
}
