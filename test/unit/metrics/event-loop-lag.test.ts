import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMetrics, EventLoopLag, type GatewayMetrics } from '../../../src/metrics/index.js';
import { parsePrometheusText } from '../../helpers/prometheus.js';

/** Holds the event loop for `ms` (a delay for the monitor to see). */
const block = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};
const turn = () => new Promise((resolve) => setTimeout(resolve, 3 * EventLoopLag.RESOLUTION_MS));
const gauge = async (metrics: GatewayMetrics, name: string) =>
  parsePrometheusText(await metrics.text()).samples.find((s) => s.name === `meshgate_nodejs_eventloop_${name}_seconds`)?.value;

describe('EventLoopLag', () => {
  let metrics: GatewayMetrics | undefined;
  afterEach(() => metrics?.eventLoopLag?.pause());

  it('exports each of prom-client\'s event-loop delay gauges once, in place of prom-client\'s own', async () => {
    metrics = createMetrics();
    const { samples, types } = parsePrometheusText(await metrics.text());
    for (const name of EventLoopLag.NAMES) {
      expect(types.get(`meshgate_${name}`)).toBe('gauge');
      expect(samples.filter((s) => s.name === `meshgate_${name}`)).toHaveLength(1);
    }
  });

  it('samples nothing while paused: a blocked loop shows no delay, and the gauges read 0 rather than sentinels', async () => {
    metrics = createMetrics();
    expect(metrics.eventLoopLag!.running).toBe(false);
    await metrics.text(); // starts the scrape interval
    block(60);
    await turn();
    expect(await gauge(metrics, 'lag_max')).toBe(0);
    expect(await gauge(metrics, 'lag_min')).toBe(0);
    expect(await gauge(metrics, 'lag_mean')).toBe(0);
  });

  it('measures the delay of a blocked loop once resumed', async () => {
    metrics = createMetrics();
    metrics.eventLoopLag!.resume();
    expect(metrics.eventLoopLag!.running).toBe(true);
    await metrics.text();
    await vi.waitFor(async () => {
      block(60);
      await turn();
      expect(await gauge(metrics!, 'lag_max')).toBeGreaterThan(0.04);
    });
  });
});
