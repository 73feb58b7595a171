import { z } from 'zod';
import { microsToUsd } from '../core/index.js';
import { percentile, type Histogram } from './latency-histogram.js';
import { GRANULARITIES, bucketStart, type Granularity, type RollupTotals } from './rollup-index.js';
import { emptyRollup, mergeRollup, ROLLUP_DIMENSIONS, type DimensionCounts, type RollupDimension, type UsageRollup } from './usage-rollup.js';

/** The portal's windows: which buckets they read and how wide a point of their time series is. */
export const OVERVIEW_WINDOWS = {
  hour: { spanMs: 3_600_000, granularity: 'minute', pointMs: 60_000 },
  day: { spanMs: 86_400_000, granularity: 'minute', pointMs: 15 * 60_000 },
  month: { spanMs: 30 * 86_400_000, granularity: 'hour', pointMs: 3_600_000 },
} as const satisfies Record<string, { spanMs: number; granularity: Granularity; pointMs: number }>;
export type OverviewWindow = keyof typeof OVERVIEW_WINDOWS;

export const usageOverviewQuerySchema = z.object({
  window: z.enum(Object.keys(OVERVIEW_WINDOWS) as [OverviewWindow, ...OverviewWindow[]]).default('day'),
  /** Entries per top list. */
  top: z.coerce.number().int().min(1).max(1_000).default(10),
}).strict();
export type UsageOverviewQuery = z.infer<typeof usageOverviewQuerySchema>;

const percentilesSchema = z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });
const topEntrySchema = z.object({
  key: z.string(),
  requests: z.number().int(),
  errors: z.number().int(),
  success_rate: z.number(),
  tokens: z.number().int(),
  cost_usd: z.number(),
  latency_ms: percentilesSchema.optional(),
  ttft_ms: percentilesSchema.optional(),
});

export const usageOverviewSchema = z.object({
  window: z.enum(Object.keys(OVERVIEW_WINDOWS) as [OverviewWindow, ...OverviewWindow[]]),
  /** Start (inclusive) and end (exclusive) of the window, epoch ms, aligned to its buckets. */
  from: z.number().int(),
  to: z.number().int(),
  point_ms: z.number().int(),
  totals: z.object({
    requests: z.number().int(),
    errors: z.number().int(),
    error_rate: z.number(),
    customer_impacting_errors: z.number().int(),
    mitigated_by_failover: z.number().int(),
    failed_over: z.number().int(),
    streamed: z.number().int(),
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    cost_usd: z.number(),
    unpriced_requests: z.number().int(),
    latency_ms: percentilesSchema,
    ttft_ms: percentilesSchema,
  }),
  /** Columns of equal length, one entry per point (`t` is the point's start): uPlot's data layout. */
  series: z.object({
    t: z.array(z.number().int()),
    requests: z.array(z.number().int()),
    errors: z.array(z.number().int()),
    customer_impacting_errors: z.array(z.number().int()),
    mitigated_by_failover: z.array(z.number().int()),
    tokens: z.array(z.number().int()),
    cost_usd: z.array(z.number()),
    latency_p50: z.array(z.number().nullable()),
    latency_p95: z.array(z.number().nullable()),
    ttft_p50: z.array(z.number().nullable()),
    ttft_p95: z.array(z.number().nullable()),
  }),
  /** Largest first by requests; `ip` counts IPv6 clients by /64, `country` by ISO 3166-1 alpha-2 code. */
  top: z.object(Object.fromEntries(ROLLUP_DIMENSIONS.map((d) => [d, z.array(topEntrySchema)])) as Record<RollupDimension, z.ZodArray<typeof topEntrySchema>>),
});
export type UsageOverview = z.infer<typeof usageOverviewSchema>;

const percentiles = (histogram: Histogram) => ({ p50: percentile(histogram, 0.5), p95: percentile(histogram, 0.95), p99: percentile(histogram, 0.99) });
const rate = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 10_000);

function topEntry(key: string, group: DimensionCounts) {
  return {
    key,
    requests: group.requests,
    errors: group.errors,
    success_rate: rate(group.requests - group.errors, group.requests),
    tokens: group.tokens,
    cost_usd: microsToUsd(group.cost_micros),
    ...(group.latency ? { latency_ms: percentiles(group.latency) } : {}),
    ...(group.ttft ? { ttft_ms: percentiles(group.ttft) } : {}),
  };
}

/** The window that ends with the bucket holding `now`. */
export function windowRange(window: OverviewWindow, now: number): { from: number; to: number } {
  const { spanMs, granularity } = OVERVIEW_WINDOWS[window];
  const to = bucketStart(now, granularity) + GRANULARITIES[granularity];
  return { from: to - spanMs, to };
}

/** Totals, time series and percentiles of a window from its buckets' totals (oldest first); top lists from its groups. */
export function usageOverview(
  window: OverviewWindow,
  range: { from: number; to: number },
  buckets: { totals: Array<[number, RollupTotals]>; groups: Array<UsageRollup['by']> },
  top: number,
): UsageOverview {
  const { pointMs } = OVERVIEW_WINDOWS[window];
  const points = Math.ceil((range.to - range.from) / pointMs);
  const perPoint = Array.from({ length: points }, () => emptyRollup());
  const total = emptyRollup();
  for (const [start, totals] of buckets.totals) {
    const index = Math.floor((start - range.from) / pointMs);
    if (index < 0 || index >= points) continue;
    const bucket = { ...totals, by: {} };
    mergeRollup(perPoint[index]!, bucket);
    mergeRollup(total, bucket);
  }
  const none = emptyRollup();
  for (const by of buckets.groups) mergeRollup(total, { ...none, by });
  const column = <T>(pick: (r: UsageRollup) => T) => perPoint.map(pick);
  return {
    window,
    from: range.from,
    to: range.to,
    point_ms: pointMs,
    totals: {
      requests: total.requests,
      errors: total.errors,
      error_rate: rate(total.errors, total.requests),
      customer_impacting_errors: total.impacting,
      mitigated_by_failover: total.mitigated,
      failed_over: total.failed_over,
      streamed: total.streamed,
      prompt_tokens: total.prompt_tokens,
      completion_tokens: total.completion_tokens,
      cost_usd: microsToUsd(total.cost_micros),
      unpriced_requests: total.unpriced,
      latency_ms: percentiles(total.latency),
      ttft_ms: percentiles(total.ttft),
    },
    series: {
      t: perPoint.map((_, i) => range.from + i * pointMs),
      requests: column((r) => r.requests),
      errors: column((r) => r.errors),
      customer_impacting_errors: column((r) => r.impacting),
      mitigated_by_failover: column((r) => r.mitigated),
      tokens: column((r) => r.prompt_tokens + r.completion_tokens),
      cost_usd: column((r) => microsToUsd(r.cost_micros)),
      latency_p50: column((r) => percentile(r.latency, 0.5)),
      latency_p95: column((r) => percentile(r.latency, 0.95)),
      ttft_p50: column((r) => percentile(r.ttft, 0.5)),
      ttft_p95: column((r) => percentile(r.ttft, 0.95)),
    },
    top: Object.fromEntries(ROLLUP_DIMENSIONS.map((dimension) => [
      dimension,
      Object.entries(total.by[dimension] ?? {})
        .sort(([ka, a], [kb, b]) => b.requests - a.requests || ka.localeCompare(kb))
        .slice(0, top)
        .map(([key, group]) => topEntry(key, group)),
    ])) as UsageOverview['top'],
  };
}
