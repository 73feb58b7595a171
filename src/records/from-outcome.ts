import type { Outcome } from '../pipeline/types.js';
import { ipQuotaBucket } from '../policy/index.js';
import type { ProviderType } from '../core-config/index.js';
import type { CostResult, PriceBook } from '../pricing/index.js';
import type { AttemptRecord } from '../router/failover.js';
import type { AttemptEntry, UsageRecord } from './usage-record.js';

export interface RecordPricing {
  priceBook: PriceBook;
  /** Type of the local provider that served the request (a peer's price is looked up by model name alone). */
  providerType?: ProviderType;
  /** Country of a client address (the node's country database); absent → records carry no country. */
  countryOf?: (ip: string) => string | undefined;
  /** What the record says of the client address (`recordedClient`), given instead of working it out again. */
  client?: RecordedClient;
}

/** The client address as a record holds it: its quota bucket (an IPv6 address's /64) and its country. */
export interface RecordedClient {
  ip: string;
  bucket: string;
  country: string | null;
}

export function recordedClient(ip: string, countryOf?: (ip: string) => string | undefined): RecordedClient {
  return { ip, bucket: ipQuotaBucket(ip), country: countryOf?.(ip) ?? null };
}

/** The usage record of a finished request, priced for the model that served it. */
export function usageRecordFromOutcome(outcome: Outcome, pricing: RecordPricing): UsageRecord {
  const usage = outcome.usage;
  const cost = costOfOutcome(outcome, pricing);
  const servedBy = outcome.cache === 'hit' ? 'cache' : outcome.peer ? 'peer' : outcome.provider ? 'local' : 'none';
  const client = !outcome.ip ? undefined : pricing.client?.ip === outcome.ip ? pricing.client : recordedClient(outcome.ip, pricing.countryOf);
  return {
    id: outcome.requestId,
    time: outcome.receivedAt,
    project: outcome.project ?? null,
    source: outcome.source ?? null,
    principal: { kind: outcome.principal.kind, id: outcome.principal.id ?? null },
    client_format: outcome.format,
    operation: outcome.operation,
    requested_model: outcome.requestedModel,
    model: outcome.model ?? null,
    provider: outcome.peer ? null : outcome.provider ?? null,
    attempts: outcome.attempts.map(attemptEntry),
    failovers: countFailovers(outcome.attempts.map((attempt) => attempt.target)),
    status: outcome.status,
    error_type: outcome.errorType ?? null,
    prompt_tokens: usage?.inputTokens ?? 0,
    completion_tokens: usage?.outputTokens ?? 0,
    cached_tokens: usage?.cachedInputTokens ?? 0,
    cache_write_tokens: usage?.cacheWriteInputTokens ?? 0,
    reasoning_tokens: usage?.reasoningTokens ?? 0,
    usage_estimated: outcome.usageEstimated ?? false,
    cost_micros: cost.costMicros,
    priced: cost.priced,
    latency_ms: outcome.latencyMs ?? null,
    ttft_ms: outcome.ttftMs ?? null,
    stream: outcome.stream,
    served_by: servedBy,
    peer: outcome.peer ?? null,
    cache: outcome.cache ?? null,
    profile: outcome.profile ?? null,
    findings: outcome.findings.map((f) => ({ type: f.type, location: f.location, action: f.action })),
    client_aborted: outcome.clientAborted ?? false,
    client_ip: client?.bucket ?? null,
    country: client?.country ?? null,
  };
}

/** One attempt as the record holds it, built key by key in the record's order (no spread per optional key). */
function attemptEntry(attempt: AttemptRecord): AttemptEntry {
  const entry = { target: attempt.target, ok: attempt.ok } as AttemptEntry;
  if (attempt.status !== undefined) entry.status = attempt.status;
  if (attempt.code !== undefined) entry.code = attempt.code;
  if (attempt.error !== undefined) entry.error = attempt.error;
  entry.duration_ms = attempt.durationMs;
  if (attempt.keys) entry.keys = attempt.keys;
  return entry;
}

/** A failover is a move from one target to a different one; retries on the same target are not failovers. */
export function countFailovers(targets: string[]): number {
  let failovers = 0;
  for (let i = 1; i < targets.length; i++) if (targets[i] !== targets[i - 1]) failovers++;
  return failovers;
}

/** No tokens used costs nothing (a refused or failed request); tokens of an unpriced model cost "unknown". */
function costOfOutcome(outcome: Outcome, { priceBook, providerType }: RecordPricing): CostResult {
  const usage = outcome.usage;
  if (!usage || usage.inputTokens + usage.outputTokens === 0) return { costMicros: 0, priced: true };
  return priceBook.costOf({ providerType, model: outcome.model ?? outcome.requestedModel, usage, at: outcome.receivedAt });
}
