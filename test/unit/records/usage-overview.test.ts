import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorBody, toGatewayError } from '../../../src/errors/index.js';
import { binOf, percentile, addToHistogram, type Histogram } from '../../../src/records/latency-histogram.js';
import { RecordStore, usageOverviewSchema, usageRoutes, type UsageRecord } from '../../../src/records/index.js';
import { coverRange } from '../../../src/records/rollup-index.js';
import { Store } from '../../../src/store/index.js';
import { makeRecord, mixedRecords } from './make-record.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A fixed "now" in the middle of a minute: every window ends with the bucket that holds it. */
const NOW = Date.UTC(2026, 10, 20, 12, 30, 30);

let dir: string;
let store: Store;
let records: RecordStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-usage-'));
  store = await Store.open(dir);
  records = await RecordStore.open(store, { retentionDays: 30, flushIntervalMs: 60_000 });
});

afterEach(async () => {
  await records.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function overview(window: string, top = 10) {
  const app = Fastify();
  app.setErrorHandler((err, _request, reply) => {
    const error = toGatewayError(err);
    void reply.code(error.status).send(errorBody('openai', error));
  });
  await app.register(usageRoutes(records, () => NOW));
  const response = await app.inject({ method: 'GET', url: `/v1/usage/overview?window=${window}&top=${top}` });
  await app.close();
  return response;
}

async function writeAll(list: UsageRecord[]): Promise<void> {
  const written = Promise.all(list.map((r) => records.write(r)));
  await records.flush();
  expect(await written).toEqual(list.map(() => true));
}

describe('latency histograms', () => {
  it('give percentiles within 10 % of the exact ones, and merge by adding', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 5 + ((i * 7919) % 2000));
    const sorted = [...values].sort((a, b) => a - b);
    const histogram: Histogram = {};
    for (const v of values) addToHistogram(histogram, v);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1]!;
      expect(Math.abs(percentile(histogram, q)! - exact) / exact).toBeLessThan(0.1);
    }
    expect(percentile({}, 0.5)).toBeNull();
    expect(binOf(0.2)).toBe(0);
    expect(binOf(10 * 3_600_000)).toBe(80); // everything past the last bin stays in it
  });
});

describe('coverRange', () => {
  it('covers a range with whole days inside it, hours at its edges and minutes where it is not on an hour', () => {
    const day = Date.UTC(2026, 10, 20);
    const parts = coverRange(day - 95 * 60_000, day + 2 * DAY + 2 * HOUR + 3 * 60_000);
    expect(parts).toEqual([
      ['minute', day - 95 * 60_000, day - HOUR],
      ['hour', day - HOUR, day],
      ['day', day, day + 2 * DAY],
      ['hour', day + 2 * DAY, day + 2 * DAY + 2 * HOUR],
      ['minute', day + 2 * DAY + 2 * HOUR, day + 2 * DAY + 2 * HOUR + 3 * 60_000],
    ]);
    expect(coverRange(day, day + 30 * 60_000)).toEqual([['minute', day, day + 30 * 60_000]]);
  });
});

describe('GET /v1/usage/overview', () => {
  it('counts what /v1/stats counts over the same records, with impacting errors and failover saves apart', async () => {
    const base = NOW - 30 * 60_000;
    await writeAll(mixedRecords(base));
    const response = await overview('hour');
    expect(response.statusCode).toBe(200);
    const body = usageOverviewSchema.parse(response.json());
    const stats = await records.stats({ from: body.from, to: body.to });
    expect(body.totals).toMatchObject({
      requests: stats.totals.requests,
      errors: stats.totals.errors,
      failed_over: stats.totals.failed_over,
      mitigated_by_failover: stats.totals.saved_by_failover,
      prompt_tokens: stats.totals.prompt_tokens,
      completion_tokens: stats.totals.completion_tokens,
      cost_usd: stats.totals.cost_usd,
      unpriced_requests: stats.totals.unpriced_requests,
    });
    // r03 (502 after every upstream failed) hurt the client; r06 (its own quota, 429 before any attempt) did not.
    expect(body.totals.customer_impacting_errors).toBe(1);
    expect(body.totals.mitigated_by_failover).toBe(1);
    expect(body.totals.error_rate).toBeCloseTo(2 / 7, 3);
    // One point per minute; the records (one a second from `base`) all fall into the point of `base`'s minute.
    expect(body.series.t).toHaveLength(60);
    expect(body.series.requests.reduce((a, b) => a + b, 0)).toBe(7);
    expect(body.series.requests[body.series.t.findIndex((t) => t <= base && base < t + 60_000)]).toBe(7);
    expect(body.top.model.map((m) => m.key)).toEqual(['gpt-4o', 'claude-sonnet-4', 'my-llm']);
    expect(body.top.project.find((p) => p.key === 'alpha')).toMatchObject({ requests: 3, errors: 0, success_rate: 1 });
    expect(body.top.peer).toEqual([expect.objectContaining({ key: '12D3KooWPeerB', requests: 1 })]);
    expect(body.top.model[0]!.latency_ms!.p50).toBeGreaterThan(100);
  });

  it('groups clients by address (IPv6 by /64) and by country', async () => {
    const at = NOW - 60_000;
    await writeAll([
      makeRecord({ id: 'a', time: at, client_ip: '2001:db8:1:2::/64', country: 'DE' }),
      makeRecord({ id: 'b', time: at + 1, client_ip: '2001:db8:1:2::/64', country: 'DE' }),
      makeRecord({ id: 'c', time: at + 2, client_ip: '203.0.113.9', country: 'FR', status: 500, error_type: 'upstream_error' }),
      makeRecord({ id: 'd', time: at + 3 }),
    ]);
    const body = (await overview('day')).json();
    expect(body.top.ip).toEqual([
      expect.objectContaining({ key: '2001:db8:1:2::/64', requests: 2 }),
      expect.objectContaining({ key: '203.0.113.9', requests: 1, errors: 1, success_rate: 0 }),
    ]);
    expect(body.top.country.map((c: { key: string; requests: number }) => [c.key, c.requests])).toEqual([['DE', 2], ['FR', 1]]);
    expect(body.series.t).toHaveLength(96);
  });

  it('windows: the hour leaves out older records, the month counts them by the hour', async () => {
    await writeAll([
      makeRecord({ id: 'old', time: NOW - 3 * DAY }),
      makeRecord({ id: 'yesterday', time: NOW - 20 * HOUR }),
      makeRecord({ id: 'now', time: NOW - 1000 }),
      makeRecord({ id: 'too-old', time: NOW - 40 * DAY }),
    ]);
    expect((await overview('hour')).json().totals.requests).toBe(1);
    expect((await overview('day')).json().totals.requests).toBe(2);
    const month = (await overview('month')).json();
    expect(month.totals.requests).toBe(3);
    expect(month.series.t).toHaveLength(720);
  });

  it('builds the buckets from the stored records when a store has none (a store from before them)', async () => {
    await writeAll(mixedRecords(NOW - 10 * 60_000));
    const before = (await overview('hour')).json();
    await records.close();
    const rollups = store.sublevel('record-rollup');
    await rollups.clear();
    records = await RecordStore.open(store, { retentionDays: 30, flushIntervalMs: 60_000 });
    expect(await rollups.keys().all()).not.toHaveLength(0);
    expect((await overview('hour')).json()).toEqual(before);
  });

  it('counts records written in several batches into the same bucket once each', async () => {
    const at = NOW - 5 * 60_000;
    for (let i = 0; i < 5; i++) await writeAll([makeRecord({ id: `x${i}`, time: at + i, prompt_tokens: 10, completion_tokens: 1 })]);
    await records.close();
    records = await RecordStore.open(store, { retentionDays: 30, flushIntervalMs: 60_000 });
    await writeAll([makeRecord({ id: 'x5', time: at + 5, prompt_tokens: 10, completion_tokens: 1 })]);
    const body = (await overview('hour')).json();
    expect(body.totals.requests).toBe(6);
    expect(body.totals.prompt_tokens).toBe(60);
  });

  it('a batch the disk refused is counted once when it is retried, not twice', async () => {
    const at = NOW - 60_000;
    await writeAll([makeRecord({ id: 'before', time: at })]); // the buckets are now cached
    // The records' batch (with its journal entry); the usage buckets are written after it, through db.batch.
    const write = store.writeEncoded.bind(store);
    let refusals = 0;
    store.writeEncoded = (operations) => {
      if (refusals++ === 0) return Promise.reject(new Error('disk full (simulated)'));
      return write(operations);
    };
    try {
      const written = records.write(makeRecord({ id: 'retried', time: at + 1 }));
      await records.flush(); // refused: queued again for the retry timer
      await expect.poll(async () => { await records.flush(); return refusals; }, { timeout: 5_000 }).toBeGreaterThan(1);
      expect(await written).toBe(true);
    } finally {
      store.writeEncoded = write;
    }
    await writeAll([makeRecord({ id: 'after', time: at + 2 })]);
    expect((await overview('hour')).json().totals.requests).toBe(3);
  });

  it('sweeps minute buckets after two days and hour buckets with the records', async () => {
    await writeAll([makeRecord({ id: 'old', time: NOW - 3 * DAY }), makeRecord({ id: 'ancient', time: NOW - 40 * DAY }), makeRecord({ id: 'new', time: NOW - 1000 })]);
    const rollups = store.sublevel('record-rollup');
    const count = async (prefix: string) => (await rollups.keys({ gte: prefix, lt: `${prefix}~` }).all()).length;
    const counts = async () => Promise.all(['m!t!', 'm!g!', 'h!t!', 'h!g!', 'd!t!', 'd!g!'].map(count));
    expect(await counts()).toEqual([3, 3, 3, 3, 3, 3]);
    await records.sweep(NOW);
    // Minutes: only the last two days' stay; hours and days: those of the 40-day-old record go (retention 30 days).
    expect(await counts()).toEqual([1, 1, 2, 2, 2, 2]);
  });

  it('refuses an unknown window or parameter with a 400 that names it', async () => {
    const response = await overview('year');
    expect(response.statusCode).toBe(400);
    expect(response.json().error.param).toBe('window');
  });
});
