import type { MeasuredSignals } from '../routing/index.js';

/** Samples kept per target for percentiles: enough for a stable p95, small enough to sort on read. */
const WINDOW = 128;
/** Weight of the newest sample in the EWMAs (about the last ten requests dominate). */
const ALPHA = 0.2;
/**
 * Answers before a target's latency counts as measured: the EWMA is seeded with their median, so one cold start (a new
 * connection, a model load) does not condemn a target. Until then it ranks as unmeasured, i.e. is explored.
 */
const WARMUP = 5;
/** A latency not refreshed for this long counts as unmeasured again: a target once slow gets re-measured, about once a minute. */
const STALE_MS = 60_000;

/** The first index of ascending `sorted` whose value is above `value` (below: `orEqual` false; at or above: true). */
function searchSorted(sorted: number[], value: number, orEqual: boolean): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < value || (!orEqual && sorted[mid] === value)) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * The last WINDOW samples, in arrival order and kept sorted beside it: a sample replaces the oldest in both (two
 * binary searches and a short move), so a percentile is one index at any time. Re-sorting the window on the first
 * read after each sample cost two sorts of 128 per request.
 */
class Ring {
  private readonly values: number[] = [];
  private readonly sorted: number[] = [];
  private next = 0;

  push(value: number): void {
    // NaN has no place in an order (and no meaning as a latency).
    if (Number.isNaN(value)) return;
    if (this.values.length < WINDOW) this.values.push(value);
    else {
      this.sorted.splice(searchSorted(this.sorted, this.values[this.next]!, true), 1);
      this.values[this.next] = value;
    }
    this.sorted.splice(searchSorted(this.sorted, value, false), 0, value);
    this.next = (this.next + 1) % WINDOW;
  }

  /** Nearest-rank percentile over the window. */
  percentile(p: number): number | undefined {
    if (this.sorted.length === 0) return undefined;
    return this.sorted[Math.min(this.sorted.length - 1, Math.ceil((p / 100) * this.sorted.length) - 1)];
  }
}

interface Entry {
  ttft: Ring;
  duration: Ring;
  latencyEwma?: number;
  successEwma?: number;
  samples: number;
  successes: number;
  lastSuccessAt: number;
  /** What `signals` answered since the last sample (every plan reads it; samples change it), and whether stale then. */
  read?: { signals: MeasuredSignals; stale: boolean };
}

/** Every key of a measured answer, in its order, so that both reach the routing plan in one shape. */
const NO_SAMPLES: MeasuredSignals = Object.freeze({
  ttftP50: undefined, ttftP95: undefined, durationP50: undefined, durationP95: undefined, latencyEwma: undefined, successRate: undefined, samples: 0,
});

/**
 * Signals this node measures for each routing target (`provider/model`) as its requests end: TTFT and duration over a
 * sliding window of the last 128, an EWMA of the duration for the `latency` strategy and an EWMA of success. Fed
 * once per attempt, read per request in O(1) (the window is kept sorted): no scan of records.
 */
export class TargetStats {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { ttft: new Ring(), duration: new Ring(), latencyEwma: undefined, successEwma: undefined, samples: 0, successes: 0, lastSuccessAt: 0, read: undefined }));
    return entry;
  }

  /** A finished attempt: its duration (to the end of the answer), its time to first token, and whether it succeeded. */
  observe(key: string, sample: { ok: boolean; durationMs: number; ttftMs?: number }): void {
    const entry = this.entry(key);
    entry.read = undefined;
    entry.samples += 1;
    entry.successEwma = entry.successEwma === undefined ? (sample.ok ? 1 : 0) : entry.successEwma + ALPHA * ((sample.ok ? 1 : 0) - entry.successEwma);
    if (!sample.ok) return;
    entry.duration.push(sample.durationMs);
    if (sample.ttftMs !== undefined) entry.ttft.push(sample.ttftMs);
    entry.successes += 1;
    entry.lastSuccessAt = this.now();
    if (entry.successes === WARMUP) entry.latencyEwma = entry.duration.percentile(50);
    else if (entry.latencyEwma !== undefined) entry.latencyEwma += ALPHA * (sample.durationMs - entry.latencyEwma);
  }

  /** Every target measured so far (`provider/model`; the mesh as `peer:*` and the model). */
  targets(): string[] {
    return [...this.entries.keys()];
  }

  signals(key: string): MeasuredSignals {
    const entry = this.entries.get(key);
    if (!entry) return NO_SAMPLES;
    // The same answer object until a sample arrives or the latency goes stale: shared, so never changed by a reader.
    const stale = this.now() - entry.lastSuccessAt > STALE_MS;
    if (entry.read?.stale === stale) return entry.read.signals;
    const signals: MeasuredSignals = Object.freeze({
      ttftP50: entry.ttft.percentile(50), ttftP95: entry.ttft.percentile(95),
      durationP50: entry.duration.percentile(50), durationP95: entry.duration.percentile(95),
      latencyEwma: stale ? undefined : entry.latencyEwma, successRate: entry.successEwma, samples: entry.samples,
    });
    entry.read = { signals, stale };
    return signals;
  }
}
