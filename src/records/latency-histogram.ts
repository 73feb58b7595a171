/**
 * Latency histograms that add up: log-scale bins (each 20 % wider than the one before), kept sparse as
 * `{ bin: count }`, so the histograms of any number of time buckets merge by adding counts and a percentile of a
 * whole window costs one walk over ~100 bins instead of a sort of its records. A percentile is reported as the
 * geometric middle of its bin: within ±10 % of the exact value, which is what a latency chart needs.
 */
export type Histogram = Record<string, number>;

const GROWTH = 1.2;
const LOG_GROWTH = Math.log(GROWTH);
/** Bin 0 holds values below 1 ms; the last bin (≈ 19 minutes and above) holds everything longer. */
const LAST_BIN = 80;

export function binOf(ms: number): number {
  if (!(ms >= 1)) return 0;
  return Math.min(LAST_BIN, 1 + Math.floor(Math.log(ms) / LOG_GROWTH));
}

/** The value a bin stands for: the geometric middle of [1.2^(i-1), 1.2^i). */
export function binValue(bin: number): number {
  if (bin <= 0) return 0;
  return Math.round(GROWTH ** (bin - 0.5) * 10) / 10;
}

export function addToHistogram(histogram: Histogram, ms: number, count = 1): void {
  addToBin(histogram, histogramBin(ms), count);
}

/** The histogram key of a value's bin. */
export function histogramBin(ms: number): string {
  return String(binOf(ms));
}

/** Counts into the bin of `histogramBin` (one value counted into several histograms is binned once). */
export function addToBin(histogram: Histogram, bin: string, count = 1): void {
  histogram[bin] = (histogram[bin] ?? 0) + count;
}

export function mergeHistogram(into: Histogram, from: Histogram): void {
  for (const [bin, count] of Object.entries(from)) into[bin] = (into[bin] ?? 0) + count;
}

/** The q-quantile (0 < q ≤ 1) of the histogram's values, or null when it is empty. */
export function percentile(histogram: Histogram, q: number): number | null {
  const bins = Object.entries(histogram).map(([bin, count]) => [Number(bin), count] as const).sort((a, b) => a[0] - b[0]);
  const total = bins.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [bin, count] of bins) {
    seen += count;
    if (seen >= rank) return binValue(bin);
  }
  return binValue(bins[bins.length - 1]![0]);
}
