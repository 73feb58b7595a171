/**
 * Portal overview benchmark: what `GET /v1/usage/overview` costs over a store of usage records.
 * `npx tsx bench/usage.ts [--quick]` (1,000,000 records, or 100,000 with --quick)
 *
 * Records are spread over the last 30 days (models, providers, projects, sources, client addresses, some failures and
 * failovers), written through the RecordStore as a node writes them (records and usage buckets in one batch each).
 * Then each window (hour, day, 30 days) is read the way the route reads it: its buckets from LevelDB, merged into
 * totals, a time series, percentiles and top lists. For comparison, `GET /v1/stats` over the last day scans records.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OVERVIEW_WINDOWS, RecordStore, usageOverview, windowRange, type OverviewWindow, type UsageRecord } from '../src/records/index.js';
import { Store } from '../src/store/index.js';

const QUICK = process.argv.includes('--quick');
const DAY = 86_400_000;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'llama-3.1-70b'];
const PROVIDERS = ['openai-main', 'openai-backup', 'anthropic', 'gemini', 'vllm'];

function record(i: number, time: number): UsageRecord {
  const failed = i % 50 === 0;
  const failedOver = i % 20 === 0;
  const model = MODELS[i % MODELS.length]!;
  return {
    id: `req_${i.toString(36).padStart(8, '0')}`, time, project: `project-${i % 40}`, source: `source-${i % 12}`,
    principal: { kind: 'token', id: `token-${i % 300}` }, client_format: 'openai', operation: 'chat',
    requested_model: model, model: failed ? null : model, provider: failed ? null : PROVIDERS[i % PROVIDERS.length]!,
    attempts: failedOver ? [{ target: 'openai-main', ok: false, status: 503, duration_ms: 20 }, { target: 'openai-backup', ok: !failed, status: failed ? 500 : 200, duration_ms: 300 }] : [{ target: 'openai-main', ok: !failed, status: failed ? 500 : 200, duration_ms: 300 }],
    failovers: failedOver ? 1 : 0, status: failed ? 502 : 200, error_type: failed ? 'upstream_error' : null,
    prompt_tokens: 200 + (i % 800), completion_tokens: 50 + (i % 300), cached_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, usage_estimated: false,
    cost_micros: 100 + (i % 900), priced: true, latency_ms: 80 + ((i * 7919) % 3000), ttft_ms: i % 2 ? 30 + ((i * 104729) % 900) : null,
    stream: i % 2 === 1, served_by: failed ? 'none' : 'local', peer: null, findings: [], client_aborted: false,
    client_ip: i % 3 ? `203.0.${(i >> 8) & 255}.${i & 255}` : `2001:db8:${(i % 500).toString(16)}::/64`, cache: null, profile: null, country: ['US', 'DE', 'FR', 'JP', 'BR'][i % 5]!,
  };
}

export async function runUsageBenchmark(): Promise<string[]> {
  const count = QUICK ? 100_000 : 1_000_000;
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-usage-'));
  const store = await Store.open(dir);
  const records = await RecordStore.open(store, { retentionDays: 0, flushIntervalMs: 0, maxBatchSize: 4_096 });
  const lines: string[] = [];
  try {
    const now = Date.now();
    const start = now - 30 * DAY;
    const step = (30 * DAY) / count;
    const writeStarted = performance.now();
    const chunk = 4_096;
    for (let i = 0; i < count; i += chunk) {
      const writes: Array<Promise<boolean>> = [];
      for (let j = i; j < Math.min(count, i + chunk); j++) writes.push(records.write(record(j, Math.floor(start + j * step))));
      await Promise.all(writes);
    }
    const writeMs = performance.now() - writeStarted;
    lines.push(`${count.toLocaleString('en-US')} records written in ${(writeMs / 1000).toFixed(1)} s (${Math.round(count / (writeMs / 1000)).toLocaleString('en-US')} records/s, buckets included)`);
    for (const window of Object.keys(OVERVIEW_WINDOWS) as OverviewWindow[]) {
      const times: number[] = [];
      let requests = 0;
      for (let round = 0; round < 5; round++) {
        const started = performance.now();
        const range = windowRange(window, Date.now());
        const overview = usageOverview(window, range, await records.rollups(OVERVIEW_WINDOWS[window].granularity, range.from, range.to), 10);
        times.push(performance.now() - started);
        requests = overview.totals.requests;
      }
      times.sort((x, y) => x - y);
      lines.push(`overview, ${window} window (${requests.toLocaleString('en-US')} records): median ${times[2]!.toFixed(0)} ms, worst ${times[4]!.toFixed(0)} ms`);
    }
    const scanStarted = performance.now();
    const stats = await records.stats({ from: now - DAY });
    lines.push(`for comparison, GET /v1/stats over the last day (scans ${stats.totals.requests.toLocaleString('en-US')} records): ${(performance.now() - scanStarted).toFixed(0)} ms`);
  } finally {
    await records.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  for (const line of await runUsageBenchmark()) console.log(line);
}
