/**
 * Analytics benchmark: the SQL index over usage records. `npx tsx bench/analytics.ts [--quick]`
 *
 * Builds the index from 1M synthetic records (100k with --quick) as a start-up rebuild does, then times queries
 * through the query process (the path of POST /v1/query, IPC included): the target is a group-by over 1M records
 * in ≤ 1 s. Beside the wall time it gives the CPU time SQLite spends on the same query (measured in this process on
 * a read-only connection of its own): on a VM shared with other work, that is what the query costs a free core.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { QueryRunner, UsageIndex } from '../src/analytics/index.js';
import type { UsageRecord } from '../src/records/index.js';

const QUICK = process.argv.includes('--quick');
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'text-embedding-3-small', 'o3-mini', 'llama-3.3-70b', 'mistral-large'];
const PROVIDERS = ['openai', 'anthropic', 'gemini', 'azure'];
const DAY_MS = 86_400_000;

function* syntheticRecords(count: number, start: number): Generator<UsageRecord> {
  const span = 30 * DAY_MS;
  for (let i = 0; i < count; i++) {
    const failed = i % 23 === 0;
    yield {
      id: `req_${i.toString(36).padStart(10, '0')}`,
      time: start + Math.floor((i / count) * span),
      project: `project-${i % 40}`,
      source: i % 3 === 0 ? null : `app-${i % 12}`,
      principal: { kind: 'token', id: `tok_${i % 200}` },
      client_format: 'openai',
      operation: 'chat',
      requested_model: MODELS[i % MODELS.length]!,
      model: failed ? null : MODELS[i % MODELS.length]!,
      provider: failed ? null : PROVIDERS[i % PROVIDERS.length]!,
      attempts: [{ target: PROVIDERS[i % PROVIDERS.length]!, ok: !failed, ...(failed ? { status: 503, code: 'upstream_error' } : { status: 200 }), duration_ms: 80 + (i % 400) }],
      failovers: 0,
      status: failed ? 503 : 200,
      error_type: failed ? 'upstream_error' : null,
      prompt_tokens: 100 + (i % 2_000),
      completion_tokens: 20 + (i % 500),
      cached_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      usage_estimated: false,
      cost_micros: failed ? 0 : 300 + (i % 9_000),
      priced: true,
      latency_ms: 90 + (i % 1_500),
      ttft_ms: i % 2 === 0 ? 40 + (i % 300) : null,
      stream: i % 2 === 0,
      served_by: failed ? 'none' : 'local',
      peer: null,
      findings: [],
      client_aborted: false,
      cache: null,
    };
  }
}

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

const QUERIES: Array<[string, string]> = [
  ['group by model (count, tokens, cost)', 'SELECT model, count(*) AS requests, sum(prompt_tokens + completion_tokens) AS tokens, sum(cost_micros) AS cost FROM records GROUP BY model'],
  ['group by day and provider', "SELECT date(time / 1000, 'unixepoch') AS day, provider, count(*) FROM records GROUP BY day, provider"],
  ['error rate per provider, last 7 days', 'SELECT provider, avg(status >= 400) AS error_rate FROM records WHERE time >= (SELECT max(time) FROM records) - 7 * 86400000 GROUP BY provider'],
];

export async function runAnalyticsBenchmark(quick = QUICK): Promise<string[]> {
  const count = quick ? 100_000 : 1_000_000;
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-analytics-'));
  const path = join(dir, 'usage.sqlite');
  const index = UsageIndex.create(path);
  const runner = new QueryRunner({ path, timeoutMs: 60_000, maxRows: 10_000 });
  const lines: string[] = [];
  try {
    const built = performance.now();
    await index.rebuild(asAsync(syntheticRecords(count, Date.UTC(2026, 0, 1))));
    const buildMs = performance.now() - built;
    lines.push(`index rebuild: ${count.toLocaleString('en')} records in ${(buildMs / 1000).toFixed(1)} s (${Math.round(count / (buildMs / 1000)).toLocaleString('en')} records/s)`);
    await runner.query('SELECT 1'); // starts the query process
    const reader = new DatabaseSync(path, { readOnly: true });
    for (const [name, sql] of QUERIES) {
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let round = 0; round < 3; round++) {
        const started = performance.now();
        await runner.query(sql);
        wall.push(performance.now() - started);
        const before = process.cpuUsage();
        reader.prepare(sql).all();
        const used = process.cpuUsage(before);
        cpu.push((used.user + used.system) / 1000);
      }
      const median = (values: number[]) => Math.round([...values].sort((a, b) => a - b)[1]!);
      lines.push(`${name} over ${count.toLocaleString('en')} records: wall median ${median(wall)} ms (best ${Math.round(Math.min(...wall))} ms), SQLite CPU median ${median(cpu)} ms — target ≤ 1000 ms`);
    }
    reader.close();
  } finally {
    runner.close();
    index.close();
    await rm(dir, { recursive: true, force: true });
  }
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  for (const line of await runAnalyticsBenchmark()) console.log(line);
}
