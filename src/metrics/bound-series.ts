import type { Metric, Registry } from 'prom-client';

/**
 * Counters and histograms for the metrics of every request, whose series are bound once per label set: prom-client
 * hashes and validates the labels object on every `inc`/`observe` (and its `labels()` children do too), which cost
 * more than the rest of the request's metrics together. Here `series(labels)` finds or creates the series once, and
 * the caller keeps it: counting is then an addition, observing a bucket search and three additions. They register
 * in a prom-client Registry like its own metrics, and `get()` answers in the shape prom-client's own counters and
 * histograms do, so the text exposition and the aggregation of worker snapshots are unchanged.
 */
interface SeriesConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

type Labels<L extends string> = Record<L, string>;

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

abstract class BoundMetric<L extends string, S extends { labels: Labels<L> }> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  abstract readonly type: 'counter' | 'histogram';
  readonly #labelNames: readonly L[];
  #series = new Map<string, S>();

  constructor(config: SeriesConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.#labelNames = config.labelNames;
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of `labels` (every label name given), created at zero on first use; keep it and count into it. */
  series(labels: Labels<L>): S {
    let key = '';
    for (const name of this.#labelNames) key += `${labels[name]}\u0000`;
    let series = this.#series.get(key);
    if (!series) {
      const own = {} as Labels<L>;
      for (const name of this.#labelNames) own[name] = String(labels[name]);
      this.#series.set(key, (series = this.create(own)));
    }
    return series;
  }

  protected abstract create(labels: Labels<L>): S;
  protected abstract values(series: S): MetricValue[];

  /** What prom-client's metrics answer: name, help, type, aggregator and one value per series (and bucket). */
  async get(): Promise<{ name: string; help: string; type: 'counter' | 'histogram'; aggregator: 'sum'; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const series of this.#series.values()) values.push(...this.values(series));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Forgets every series (what `Registry.resetMetrics()` asks of a metric); series handed out before count on unseen. */
  reset(): void {
    this.#series = new Map();
  }
}

export interface CounterSeries<L extends string> {
  readonly labels: Labels<L>;
  value: number;
}

export class BoundCounter<L extends string> extends BoundMetric<L, CounterSeries<L>> {
  readonly type = 'counter' as const;

  protected create(labels: Labels<L>): CounterSeries<L> {
    return { labels, value: 0 };
  }

  protected values(series: CounterSeries<L>): MetricValue[] {
    return [{ labels: series.labels, value: series.value }];
  }
}

export class HistogramSeries<L extends string> {
  /** Observations per bucket (not cumulative), the last one for values above every bound. */
  readonly #counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly labels: Labels<L>, private readonly bounds: readonly number[]) {
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.#counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative count of observations ≤ each bound, as Prometheus `_bucket` series carry them. */
  cumulative(): number[] {
    let total = 0;
    return this.bounds.map((_, i) => (total += this.#counts[i]!));
  }
}

export class BoundHistogram<L extends string> extends BoundMetric<L, HistogramSeries<L>> {
  readonly type = 'histogram' as const;
  readonly #bounds: readonly number[];

  constructor(config: SeriesConfig<L> & { buckets: readonly number[] }) {
    super(config);
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
  }

  protected create(labels: Labels<L>): HistogramSeries<L> {
    return new HistogramSeries(labels, this.#bounds);
  }

  protected values(series: HistogramSeries<L>): MetricValue[] {
    const bucket = `${this.name}_bucket`;
    const cumulative = series.cumulative();
    return [
      ...this.#bounds.map((le, i) => ({ labels: { ...series.labels, le }, value: cumulative[i]!, metricName: bucket })),
      { labels: { ...series.labels, le: '+Inf' }, value: series.count, metricName: bucket },
      { labels: series.labels, value: series.sum, metricName: `${this.name}_sum` },
      { labels: series.labels, value: series.count, metricName: `${this.name}_count` },
    ];
  }
}
