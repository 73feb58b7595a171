import { addToBin, histogramBin, mergeHistogram, type Histogram } from './latency-histogram.js';
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

/**
 * What counting a record into a bucket reads from it, worked out once: each record is counted into three buckets (its
 * minute, hour and day), and the histogram bins and group keys are the same for all three.
 */
export interface RollupEntry {
  failed: boolean;
  impacting: boolean;
  failedOver: boolean;
  streamed: boolean;
  promptTokens: number;
  completionTokens: number;
  /** 0 when unpriced (`unpriced` then says so). */
  cost: number;
  unpriced: boolean;
  /** Histogram bins of the latency and the TTFT; null when the record has none. */
  latencyBin: string | null;
  ttftBin: string | null;
  /** The record's group key in each of ROLLUP_DIMENSIONS (same order); null: not counted in that dimension. */
  keys: Array<string | null>;
}

export function rollupEntry(record: UsageRecord): RollupEntry {
  return {
    failed: record.status >= 400,
    impacting: isCustomerImpacting(record),
    failedOver: record.failovers > 0,
    streamed: record.stream,
    promptTokens: record.prompt_tokens,
    completionTokens: record.completion_tokens,
    cost: record.cost_micros ?? 0,
    unpriced: record.cost_micros === null,
    latencyBin: record.latency_ms === null ? null : histogramBin(record.latency_ms),
    ttftBin: record.ttft_ms === null ? null : histogramBin(record.ttft_ms),
    keys: dimensionKeys(record),
  };
}

/** The record's key in each of ROLLUP_DIMENSIONS, filled in a loop (no closure per record). */
function dimensionKeys(record: UsageRecord): Array<string | null> {
  const keys = new Array<string | null>(ROLLUP_DIMENSIONS.length);
  for (let i = 0; i < ROLLUP_DIMENSIONS.length; i++) keys[i] = KEY_OF[ROLLUP_DIMENSIONS[i]!](record);
  return keys;
}

/** Counts one record into a bucket. */
export function addToRollup(rollup: UsageRollup, record: UsageRecord): void {
  addEntryToRollup(rollup, rollupEntry(record));
}

/** Counts one record, as `rollupEntry` read it, into a bucket. */
export function addEntryToRollup(rollup: UsageRollup, entry: RollupEntry): void {
  const { failed, cost, latencyBin, ttftBin } = entry;
  const tokens = entry.promptTokens + entry.completionTokens;
  rollup.requests++;
  if (failed) rollup.errors++;
  if (entry.impacting) rollup.impacting++;
  if (entry.failedOver) {
    rollup.failed_over++;
    if (!failed) rollup.mitigated++;
  }
  if (entry.streamed) rollup.streamed++;
  rollup.prompt_tokens += entry.promptTokens;
  rollup.completion_tokens += entry.completionTokens;
  rollup.cost_micros += cost;
  if (entry.unpriced) rollup.unpriced++;
  if (latencyBin !== null) addToBin(rollup.latency, latencyBin);
  if (ttftBin !== null) addToBin(rollup.ttft, ttftBin);
  for (let i = 0; i < ROLLUP_DIMENSIONS.length; i++) {
    const key = entry.keys[i];
    if (key === null || key === undefined) continue;
    const group = groupOf(rollup, ROLLUP_DIMENSIONS[i]!, key);
    group.requests++;
    if (failed) group.errors++;
    group.tokens += tokens;
    group.cost_micros += cost;
    if (group.latency && latencyBin !== null) addToBin(group.latency, latencyBin);
    if (group.ttft && ttftBin !== null) addToBin(group.ttft, ttftBin);
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
