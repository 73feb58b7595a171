import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/**
 * The event-loop delay gauges of prom-client's default metrics (same names, help and cluster aggregators), measured
 * only while the node is serving. Node's delay monitor is a libuv timer firing every `resolution` ms: left on, it
 * wakes an idle node 100 times a second (`epoll_pwait` returning every 10 ms, seen with strace). `resume()` and
 * `pause()` are called by the gateway's IdleWatch; while paused nothing is sampled and the histogram gauges read 0
 * (an idle loop has no delay to report), while `nodejs_eventloop_lag_seconds` is still measured at each scrape.
 */
export class EventLoopLag {
  /** prom-client's sampling interval (its `eventLoopMonitoringPrecision` default). */
  static readonly RESOLUTION_MS = 10;
  /** The gauges' names without the registry's prefix, as prom-client names them. */
  static readonly NAMES = ['lag', 'lag_min', 'lag_max', 'lag_mean', 'lag_stddev', 'lag_p50', 'lag_p90', 'lag_p99'].map((n) => `nodejs_eventloop_${n}_seconds`);

  readonly #histogram: ELDHistogram = monitorEventLoopDelay({ resolution: EventLoopLag.RESOLUTION_MS });
  #running = false;

  constructor(registry: Registry, prefix: string) {
    const histogram = this.#histogram;
    const registers = [registry];
    const gauge = (name: string, help: string, aggregator: 'min' | 'max' | 'average', collect?: (this: Gauge) => void) =>
      new Gauge({ name: `${prefix}nodejs_eventloop_${name}_seconds`, help, registers, aggregator, ...(collect ? { collect } : {}) });
    // One collect sets every gauge, as prom-client's does (registered first, so it runs before the others are read):
    // the lag of this scrape's own turn, then the histogram since the previous scrape (empty when the monitor was
    // paused throughout: zeros rather than its int64 sentinels).
    gauge('lag', 'Lag of event loop in seconds.', 'average', function collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => this.set(Number(process.hrtime.bigint() - start) / 1e9));
      const sampled = histogram.count > 0;
      const seconds = (ns: number) => (sampled ? ns / 1e9 : 0);
      lagMin.set(seconds(histogram.min));
      lagMax.set(seconds(histogram.max));
      lagMean.set(seconds(histogram.mean));
      lagStddev.set(seconds(histogram.stddev));
      lagP50.set(seconds(histogram.percentile(50)));
      lagP90.set(seconds(histogram.percentile(90)));
      lagP99.set(seconds(histogram.percentile(99)));
      histogram.reset();
    });
    const lagMin = gauge('lag_min', 'The minimum recorded event loop delay.', 'min');
    const lagMax = gauge('lag_max', 'The maximum recorded event loop delay.', 'max');
    const lagMean = gauge('lag_mean', 'The mean of the recorded event loop delays.', 'average');
    const lagStddev = gauge('lag_stddev', 'The standard deviation of the recorded event loop delays.', 'average');
    const lagP50 = gauge('lag_p50', 'The 50th percentile of the recorded event loop delays.', 'average');
    const lagP90 = gauge('lag_p90', 'The 90th percentile of the recorded event loop delays.', 'average');
    const lagP99 = gauge('lag_p99', 'The 99th percentile of the recorded event loop delays.', 'average');
  }

  /** Whether the delay is being sampled now. */
  get running(): boolean {
    return this.#running;
  }

  /** Starts sampling (the node is serving). */
  resume(): void {
    if (this.#running) return;
    this.#running = true;
    this.#histogram.enable();
  }

  /** Stops sampling: no timer of this monitor wakes the process. */
  pause(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#histogram.disable();
  }
}
