/**
 * Analytics benchmark: SQL over usage records. `npx tsx bench/analytics.ts [--quick]`
 *
 * Fills the usage index (DuckDB, in its index process) from 1M synthetic records (100k with --quick) as a first
 * start does, catches up again as a restart does, and times queries through the path of POST /v1/query (IPC
 * included): the target is a group-by over 1M records in ≤ 1 s. Beside the wall time it gives the CPU time the
 * index process spent (from /proc), and its resident memory. For the choice of engine it measures the two
 * alternatives on the same rows: SQLite (node:sqlite, the engine before) over the records, and SQLite over a
 * pre-aggregated table (hour × model × provider × project), which answers only the group-bys it was built for.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { UsageIndex, type RecordSource } from '../src/analytics/index.js';
import type { UsageRecord } from '../src/records/index.js';
import { recordKey } from '../src/records/record-keys.js';
import { cpuMs, memoryMb } from './processes.js';

const QUICK = process.argv.includes('--quick');
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'text-embedding-3-small', 'o3-mini', 'llama-3.3-70b', 'mistral-large'];
const PROVIDERS = ['openai', 'anthropic', 'gemini', 'azure'];
const DAY_MS = 86_400_000;

const timeOf = (i: number, count: number, start: number, span: number) => start + Math.floor((i / count) * span);

/** Record `i` of `count` synthetic records spread over 30 days from `start` (made again on demand: 1M records never sit in memory). */
function syntheticRecord(i: number, count: number, start: number): UsageRecord {
  const span = 30 * DAY_MS;
  const failed = i % 23 === 0;
  return {
    id: `req_${i.toString(36).padStart(10, '0')}`,
    time: timeOf(i, count, start, span),
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
    profile: i % 5 === 0 ? 'cheap' : null,
  };
}

/** The record store of `count` synthetic records: keys in order, values made from the id. */
function syntheticSource(count: number, start: number): RecordSource {
  return {
    async *keys() {
      for (let i = 0; i < count; i++) yield recordKey(timeOf(i, count, start, 30 * DAY_MS), `req_${i.toString(36).padStart(10, '0')}`);
    },
    async texts(keys) {
      return keys.map((key) => JSON.stringify(syntheticRecord(parseInt(key.slice(key.indexOf('!') + 5), 36), count, start)));
    },
  };
}

const QUERIES: Array<[string, string]> = [
  ['group by model (count, tokens, cost)', 'SELECT model, count(*) AS requests, sum(prompt_tokens + completion_tokens) AS tokens, sum(cost_micros) AS cost FROM records GROUP BY model'],
  ['group by day and provider', 'SELECT epoch_ms(time)::DATE AS day, provider, count(*) FROM records GROUP BY day, provider'],
  ['error rate per provider, last 7 days', 'SELECT provider, avg((status >= 400)::INTEGER) AS error_rate FROM records WHERE time >= (SELECT max(time) FROM records) - 7 * 86400000 GROUP BY provider'],
  ['p95 latency per model and profile', 'SELECT model, profile, quantile_cont(latency_ms, 0.95) AS p95 FROM records GROUP BY model, profile'],
];
const GROUP_BY_MODEL_SQLITE = 'SELECT model, count(*) AS requests, sum(prompt_tokens + completion_tokens) AS tokens, sum(cost_micros) AS cost FROM records GROUP BY model';
const GROUP_BY_MODEL_AGGREGATE = 'SELECT model, sum(requests), sum(tokens), sum(cost) FROM hourly GROUP BY model';

const median = (values: number[]) => Math.round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The two SQLite alternatives on the same rows: the records table, and a pre-aggregated hourly table. */
function sqliteAlternatives(count: number, start: number, dir: string): string[] {
  const db = new DatabaseSync(join(dir, 'compare.sqlite'));
  db.exec('PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;');
  db.exec('CREATE TABLE records (time INTEGER, model TEXT, provider TEXT, project TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, cost_micros INTEGER)');
  const insert = db.prepare('INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)');
  db.exec('BEGIN');
  for (let i = 0; i < count; i++) {
    const r = syntheticRecord(i, count, start);
    insert.run(r.time, r.model, r.provider, r.project, r.prompt_tokens, r.completion_tokens, r.cost_micros);
  }
  db.exec('COMMIT');
  db.exec(`CREATE TABLE hourly AS SELECT time / 3600000 AS hour, model, provider, project, count(*) AS requests,
    sum(prompt_tokens + completion_tokens) AS tokens, sum(cost_micros) AS cost FROM records GROUP BY hour, model, provider, project`);
  const groups = Number((db.prepare('SELECT count(*) AS n FROM hourly').get() as { n: number }).n);
  const time = (sql: string) => {
    const runs: number[] = [];
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      db.prepare(sql).all();
      runs.push(performance.now() - started);
    }
    return median(runs);
  };
  const lines = [
    `  SQLite over the records (the engine before): group by model ${time(GROUP_BY_MODEL_SQLITE)} ms (in process, no IPC)`,
    `  SQLite over a pre-aggregated hourly table (${groups.toLocaleString('en')} rows): group by model ${time(GROUP_BY_MODEL_AGGREGATE)} ms — answers only hour/model/provider/project sums`,
  ];
  db.close();
  return lines;
}

export async function runAnalyticsBenchmark(quick = QUICK): Promise<string[]> {
  const count = quick ? 100_000 : 1_000_000;
  const start = Date.UTC(2026, 0, 1);
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-analytics-'));
  const options = { dir, memoryMb: 256, threads: 1, timeoutMs: 60_000, maxRows: 10_000 };
  const lines: string[] = [];
  const source = syntheticSource(count, start);
  try {
    let index = new UsageIndex(options);
    let began = performance.now();
    await index.catchUp(source);
    const fillMs = performance.now() - began;
    lines.push(`index fill (first start): ${count.toLocaleString('en')} records in ${seconds(fillMs)} (${Math.round(count / (fillMs / 1000)).toLocaleString('en')} records/s)`);
    await index.close();

    index = new UsageIndex(options);
    began = performance.now();
    await index.catchUp(source);
    lines.push(`catch-up after a restart, nothing missing: ${seconds(performance.now() - began)} (LevelDB keys compared, no record copied)`);
    try {
      await index.query('SELECT 1');
      for (const [name, sql] of QUERIES) {
        const wall: number[] = [];
        const cpu: number[] = [];
        for (let round = 0; round < 3; round++) {
          const before = await cpuMs(index.pid!);
          const started = performance.now();
          await index.query(sql);
          wall.push(performance.now() - started);
          cpu.push((await cpuMs(index.pid!)) - before);
        }
        lines.push(`${name} over ${count.toLocaleString('en')} records: wall median ${median(wall)} ms (best ${Math.round(Math.min(...wall))} ms), index process CPU median ${median(cpu)} ms — target ≤ 1000 ms`);
      }
      lines.push(`index process resident memory after the queries: ${Math.round(await memoryMb(index.pid!, 'VmRSS'))} MB (DuckDB memory_limit ${options.memoryMb} MB)`);
    } finally {
      await index.close();
    }
    lines.push('the alternatives, same rows:', ...sqliteAlternatives(count, start, dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  for (const line of await runAnalyticsBenchmark()) console.log(line);
}
