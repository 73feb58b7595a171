import { addToHistogram, mergeHistogram, type Histogram } from './latency-histogram.js';
import { DIMENSION_KEYS } from './record-stats.js';
import type { UsageRecord } from './usage-record.js';

/**
 * Pre-aggregated usage of one time bucket (a minute or an hour), written in the same LevelDB batch as the records
 * it counts. The portal's overview, top lists and latency profiles read a window's buckets (60 minutes, 1 440
 * minutes or 720 hours) instead of its records, so they cost the same with a thousand records or a million.
 */
export interface UsageRollup {
  requests: number;
  errors: number;
  /** Failed requests the client felt that were not its own doing: see `isCustomerImpacting`. */
  impacting: number;
  /** Requests that failed over and still succeeded. */
  mitigated: number;
  failed_over: number;
  streamed: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
  unpriced: number;
  latency: Histogram;
  ttft: Histogram;
  by: Partial<Record<RollupDimension, Record<string, DimensionCounts>>>;
}

export interface DimensionCounts {
  requests: number;
  errors: number;
  tokens: number;
  cost_micros: number;
  /** Kept for models and providers only: their latency profile. */
  latency?: Histogram;
  ttft?: Histogram;
}

export const ROLLUP_DIMENSIONS = ['model', 'provider', 'project', 'source', 'principal', 'peer', 'ip', 'country'] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

/** Dimensions whose groups carry latency histograms. */
const PROFILED = new Set<RollupDimension>(['model', 'provider']);
/** Most distinct keys of one dimension in one bucket; the rest are counted under OTHER_KEY (bounded size). */
export const MAX_KEYS_PER_BUCKET = 256;
export const OTHER_KEY = '(other)';

/** The stats API's groups, except that only peer-served records have a peer here. */
const KEY_OF: Record<RollupDimension, (record: UsageRecord) => string | null> = {
  ...DIMENSION_KEYS,
  peer: (r) => (r.served_by === 'peer' ? r.peer : null),
  ip: (r) => r.client_ip ?? null,
  country: (r) => r.country ?? null,
};

/**
 * A failure the client felt that was not its own doing: the gateway or every upstream failed (5xx), or an upstream
 * that was tried refused or timed out (429, 408). A malformed request, a bad credential or the client's own quota
 * (4xx before any attempt) is the client's business, and a client that hung up is not an error of ours.
 */
export function isCustomerImpacting(record: UsageRecord): boolean {
  if (record.client_aborted) return false;
  if (record.status >= 500) return true;
  return record.attempts.length > 0 && (record.status === 429 || record.status === 408);
}

export function emptyRollup(): UsageRollup {
  return {
    requests: 0, errors: 0, impacting: 0, mitigated: 0, failed_over: 0, streamed: 0, prompt_tokens: 0,
    completion_tokens: 0, cost_micros: 0, unpriced: 0, latency: {}, ttft: {}, by: {},
  };
}

function groupOf(rollup: UsageRollup, dimension: RollupDimension, key: string): DimensionCounts {
  const groups = (rollup.by[dimension] ??= {});
  let group = groups[key];
  if (group) return group;
  if (Object.keys(groups).length >= MAX_KEYS_PER_BUCKET) key = OTHER_KEY;
  group = groups[key] ??= { requests: 0, errors: 0, tokens: 0, cost_micros: 0, ...(PROFILED.has(dimension) ? { latency: {}, ttft: {} } : {}) };
  return group;
}

/** Counts one record into a bucket. */
export function addToRollup(rollup: UsageRollup, record: UsageRecord): void {
  const failed = record.status >= 400;
  const tokens = record.prompt_tokens + record.completion_tokens;
  const cost = record.cost_micros ?? 0;
  rollup.requests++;
  if (failed) rollup.errors++;
  if (isCustomerImpacting(record)) rollup.impacting++;
  if (record.failovers > 0) {
    rollup.failed_over++;
    if (!failed) rollup.mitigated++;
  }
  if (record.stream) rollup.streamed++;
  rollup.prompt_tokens += record.prompt_tokens;
  rollup.completion_tokens += record.completion_tokens;
  rollup.cost_micros += cost;
  if (record.cost_micros === null) rollup.unpriced++;
  if (record.latency_ms !== null) addToHistogram(rollup.latency, record.latency_ms);
  if (record.ttft_ms !== null) addToHistogram(rollup.ttft, record.ttft_ms);
  for (const dimension of ROLLUP_DIMENSIONS) {
    const key = KEY_OF[dimension](record);
    if (key === null) continue;
    const group = groupOf(rollup, dimension, key);
    group.requests++;
    if (failed) group.errors++;
    group.tokens += tokens;
    group.cost_micros += cost;
    if (group.latency && record.latency_ms !== null) addToHistogram(group.latency, record.latency_ms);
    if (group.ttft && record.ttft_ms !== null) addToHistogram(group.ttft, record.ttft_ms);
  }
}

/** Adds `from` into `into` (a window's total from its buckets). Top lists of a window are unbounded in keys. */
export function mergeRollup(into: UsageRollup, from: UsageRollup): void {
  into.requests += from.requests;
  into.errors += from.errors;
  into.impacting += from.impacting;
  into.mitigated += from.mitigated;
  into.failed_over += from.failed_over;
  into.streamed += from.streamed;
  into.prompt_tokens += from.prompt_tokens;
  into.completion_tokens += from.completion_tokens;
  into.cost_micros += from.cost_micros;
  into.unpriced += from.unpriced;
  mergeHistogram(into.latency, from.latency);
  mergeHistogram(into.ttft, from.ttft);
  for (const [dimension, groups] of Object.entries(from.by) as Array<[RollupDimension, Record<string, DimensionCounts>]>) {
    const target = (into.by[dimension] ??= {});
    for (const [key, group] of Object.entries(groups)) {
      const existing = target[key];
      if (!existing) {
        target[key] = { ...group, ...(group.latency ? { latency: { ...group.latency } } : {}), ...(group.ttft ? { ttft: { ...group.ttft } } : {}) };
        continue;
      }
      existing.requests += group.requests;
      existing.errors += group.errors;
      existing.tokens += group.tokens;
      existing.cost_micros += group.cost_micros;
      if (group.latency) mergeHistogram((existing.latency ??= {}), group.latency);
      if (group.ttft) mergeHistogram((existing.ttft ??= {}), group.ttft);
    }
  }
}
