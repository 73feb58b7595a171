import { microsToUsd } from '../core/index.js';
import type { UsageRecord } from './usage-record.js';

/** Sums over a set of records. Money stays in integer micro-dollars; `cost_usd` is derived once, for display. */
export interface UsageTotals {
  requests: number;
  errors: number;
  /** Requests that failed over to another target at least once. */
  failed_over: number;
  /** Of those, the ones that still succeeded: failover saved them. */
  saved_by_failover: number;
  streamed: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_micros: number;
  cost_usd: number;
  /** Requests whose model had no known price: their cost is missing from `cost_micros`, not zero. */
  unpriced_requests: number;
  avg_latency_ms: number | null;
  avg_ttft_ms: number | null;
}

export type UsageGroup = UsageTotals & { key: string };

export const STATS_DIMENSIONS = ['model', 'provider', 'source', 'project', 'principal', 'peer'] as const;
export type StatsDimension = (typeof STATS_DIMENSIONS)[number];

export interface UsageStats {
  from: number | null;
  to: number | null;
  totals: UsageTotals;
  /** Per dimension, groups sorted by request count (largest first). */
  by: Record<StatsDimension, UsageGroup[]>;
}

/** Records without a value for a dimension are grouped under this key (requests without x-project, for example). */
export const NONE_KEY = '(none)';

/** Which group of each dimension a record falls in. */
export const DIMENSION_KEYS: Record<StatsDimension, (record: UsageRecord) => string | null> = {
  model: (record) => record.model ?? record.requested_model,
  provider: (record) => record.provider,
  source: (record) => record.source,
  project: (record) => record.project,
  principal: (record) => (record.principal.id === null ? record.principal.kind : `${record.principal.kind}:${record.principal.id}`),
  peer: (record) => (record.served_by === 'peer' ? record.peer : record.served_by),
};

/** The running sums behind UsageTotals (its averages and dollar figure are derived at the end). */
type Accumulator = Omit<UsageTotals, 'cost_usd' | 'avg_latency_ms' | 'avg_ttft_ms'> & {
  latencySum: number;
  latencyCount: number;
  ttftSum: number;
  ttftCount: number;
};

const emptyAccumulator = (): Accumulator => ({
  requests: 0, errors: 0, failed_over: 0, saved_by_failover: 0, streamed: 0, prompt_tokens: 0, completion_tokens: 0,
  cached_tokens: 0, cost_micros: 0, unpriced_requests: 0, latencySum: 0, latencyCount: 0, ttftSum: 0, ttftCount: 0,
});

function add(acc: Accumulator, record: UsageRecord): void {
  const failed = record.status >= 400;
  acc.requests++;
  if (failed) acc.errors++;
  if (record.failovers > 0) {
    acc.failed_over++;
    if (!failed) acc.saved_by_failover++;
  }
  if (record.stream) acc.streamed++;
  acc.prompt_tokens += record.prompt_tokens;
  acc.completion_tokens += record.completion_tokens;
  acc.cached_tokens += record.cached_tokens;
  if (record.cost_micros === null) acc.unpriced_requests++;
  else acc.cost_micros += record.cost_micros;
  if (record.latency_ms !== null) {
    acc.latencySum += record.latency_ms;
    acc.latencyCount++;
  }
  if (record.ttft_ms !== null) {
    acc.ttftSum += record.ttft_ms;
    acc.ttftCount++;
  }
}

function totalsOf(acc: Accumulator): UsageTotals {
  const { latencySum, latencyCount, ttftSum, ttftCount, ...counts } = acc;
  return {
    ...counts,
    cost_usd: microsToUsd(acc.cost_micros),
    avg_latency_ms: latencyCount === 0 ? null : Math.round(latencySum / latencyCount),
    avg_ttft_ms: ttftCount === 0 ? null : Math.round(ttftSum / ttftCount),
  };
}

/** Totals and per-dimension breakdowns of the records, in one pass. */
export async function usageStats(
  records: AsyncIterable<UsageRecord> | Iterable<UsageRecord>,
  range: { from?: number; to?: number } = {},
): Promise<UsageStats> {
  const totals = emptyAccumulator();
  const groups = Object.fromEntries(STATS_DIMENSIONS.map((d) => [d, new Map<string, Accumulator>()])) as Record<StatsDimension, Map<string, Accumulator>>;
  for await (const record of records) {
    add(totals, record);
    for (const dimension of STATS_DIMENSIONS) {
      const key = DIMENSION_KEYS[dimension](record) ?? NONE_KEY;
      let acc = groups[dimension].get(key);
      if (!acc) groups[dimension].set(key, (acc = emptyAccumulator()));
      add(acc, record);
    }
  }
  const by = Object.fromEntries(
    STATS_DIMENSIONS.map((dimension) => [
      dimension,
      [...groups[dimension]]
        .map(([key, acc]) => ({ key, ...totalsOf(acc) }))
        .sort((a, b) => b.requests - a.requests || a.key.localeCompare(b.key)),
    ]),
  ) as Record<StatsDimension, UsageGroup[]>;
  return { from: range.from ?? null, to: range.to ?? null, totals: totalsOf(totals), by };
}
