import { AggregatorRegistry, Counter, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundCounter, BoundHistogram } from '../../../src/metrics/bound-series.js';
import { parsePrometheusText, type Sample } from '../../helpers/prometheus.js';

/**
 * The bound counters and histograms stand in for prom-client's own: fed the same observations, the exposition
 * (and the aggregation of worker snapshots) must be the same series with the same values.
 */
const BUCKETS = [0.01, 0.1, 1, 10];
const LABELS = ['model', 'status'] as const;
const OBSERVATIONS: Array<[{ model: string; status: string }, number]> = [
  [{ model: 'gpt-4o', status: '200' }, 0.005],
  [{ model: 'gpt-4o', status: '200' }, 0.01], // on a bound: counted in that bucket (le is "less or equal")
  [{ model: 'gpt-4o', status: '200' }, 0.5],
  [{ model: 'gpt-4o', status: '500' }, 42], // above every bound: only +Inf
  [{ model: 'say "hi"\n\\', status: '200' }, 3], // a label value that needs escaping
];

function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const counter = new Counter({ name: 'x_total', help: 'h', labelNames: [...LABELS], registers: [theirs] });
  const histogram = new Histogram({ name: 'x_seconds', help: 'h', labelNames: [...LABELS], buckets: BUCKETS, registers: [theirs] });
  const boundCounter = new BoundCounter({ name: 'x_total', help: 'h', labelNames: LABELS, registers: [ours] });
  const boundHistogram = new BoundHistogram({ name: 'x_seconds', help: 'h', labelNames: LABELS, buckets: BUCKETS, registers: [ours] });
  for (const [labels, value] of OBSERVATIONS) {
    counter.inc(labels, 2);
    histogram.observe(labels, value);
    boundCounter.series(labels).value += 2;
    boundHistogram.series(labels).observe(value);
  }
  return { theirs, ours };
}

const sorted = (samples: Sample[]) => samples.map((s) => JSON.stringify([s.name, Object.entries(s.labels).sort(), s.value])).sort();

describe('bound counters and histograms', () => {
  it('expose the same series and values as prom-client\'s own counter and histogram', async () => {
    const { theirs, ours } = both();
    const expected = parsePrometheusText(await theirs.metrics());
    const actual = parsePrometheusText(await ours.metrics());
    expect(actual.types).toEqual(expected.types);
    expect(sorted(actual.samples)).toEqual(sorted(expected.samples));
  });

  it('sum across worker snapshots as prom-client\'s aggregation sums its own', async () => {
    const snapshot = async (registry: Registry) => (await registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[];
    const a = both();
    const b = both();
    const expected = parsePrometheusText(await AggregatorRegistry.aggregate([await snapshot(a.theirs), await snapshot(b.theirs)]).metrics());
    const actual = parsePrometheusText(await AggregatorRegistry.aggregate([await snapshot(a.ours), await snapshot(b.ours)]).metrics());
    expect(sorted(actual.samples)).toEqual(sorted(expected.samples));
    expect(actual.samples.find((s) => s.name === 'x_total' && s.labels.status === '500')?.value).toBe(4);
  });

  it('hand out one series per label set, and refuse a value that is not a number', () => {
    const histogram = new BoundHistogram({ name: 'y', help: 'h', labelNames: LABELS, buckets: BUCKETS, registers: [] });
    expect(histogram.series({ model: 'a', status: '200' })).toBe(histogram.series({ status: '200', model: 'a' }));
    expect(histogram.series({ model: 'a', status: '200' })).not.toBe(histogram.series({ model: 'a', status: '201' }));
    expect(() => histogram.series({ model: 'a', status: '200' }).observe(Number.NaN)).toThrow(TypeError);
  });
});
