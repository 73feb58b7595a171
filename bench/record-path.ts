/**
 * What recording a finished request costs the gateway process: the usage record built from the outcome, the
 * metrics it feeds, its LevelDB write (records, indexes and usage buckets, group commit) and its copy sent to the
 * DuckDB index process — measured as CPU time (`process.cpuUsage()`) per request, for the whole path and for each
 * part alone; beside it the CPU the index process spent on the same records (it shares the node's cores). Outcomes
 * arrive `perTurn` per turn of the event loop, as finished requests do under load, or (`paced`) one a millisecond on a
 * timer: the pace of a node serving about 1,000 requests a second, where the record store's group commit writes a
 * batch of about one record each time (a turn-by-turn loop arrives faster than a write returns, so its batches are
 * larger and the cost of each LevelDB write is shared).
 * `npx tsx bench/record-path.ts [--quick]` (20,000 outcomes per round, 5,000 with --quick)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { UsageIndex } from '../src/analytics/index.js';
import { createMetrics } from '../src/metrics/index.js';
import type { Outcome } from '../src/pipeline/types.js';
import { PriceBook } from '../src/pricing/index.js';
import { OutcomeRecorder, RecordStore, usageRecordFromOutcome } from '../src/records/index.js';
import { recordKey } from '../src/records/record-keys.js';
import { Store } from '../src/store/index.js';
import { cpuMs } from './processes.js';

const QUICK = process.argv.includes('--quick');
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5'];

function outcome(i: number): Outcome {
  const model = MODELS[i % MODELS.length]!;
  return {
    requestId: `req_${process.pid}_${i}`, receivedAt: Date.now(), format: 'openai', operation: 'chat', requestedModel: model, model,
    provider: 'openai-main', principal: { kind: 'token', id: `tok_${i % 20}` }, project: i % 2 ? 'alpha' : undefined, source: 'bench',
    stream: i % 3 === 0, attempts: [{ target: 'openai-main', ok: true, status: 200, durationMs: 3 }], status: 200,
    usage: { inputTokens: 20 + (i % 100), outputTokens: 10 + (i % 40) }, ttftMs: i % 3 === 0 ? 2 : undefined, latencyMs: 4,
    findings: [], warnings: [], ip: '127.0.0.1',
  };
}

/** `none`: only the turns of the event loop (what every other figure includes). */
type Part = 'all' | 'build' | 'metrics' | 'store' | 'index' | 'none';

/**
 * CPU µs per outcome of `part` in this process, and in the index process (0 when the part has none), over `count`
 * outcomes arriving `perTurn` per event-loop turn (everything written, and appended to the index).
 */
async function measure(part: Part, count: number, perTurn: number | 'paced', flushIntervalMs = 0): Promise<{ self: number; index: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-records-'));
  const logger = pino({ level: 'silent' });
  const store = await Store.open(dir);
  const records = await RecordStore.open(store, { retentionDays: 0, flushIntervalMs, logger });
  const metrics = createMetrics({ processMetrics: false });
  const index = part === 'all' || part === 'index' ? new UsageIndex({ dir, memoryMb: 128, threads: 1, timeoutMs: 10_000, maxRows: 100, logger }) : undefined;
  await index?.catchUp({ keys: () => records.keys(), texts: (keys) => records.texts(keys) });
  const priceBook = new PriceBook();
  const recorder = new OutcomeRecorder(records, {
    priceBook, providerType: () => 'openai', logger,
    onRecord: (record) => metrics.observeRecord(record),
  });
  // The index copies what the store wrote (read back from LevelDB when it copies).
  if (index && part === 'all') records.onWritten((keys) => index.add(keys));
  const outcomes = Array.from({ length: count }, (_, i) => outcome(i));
  const built = outcomes.map((o) => usageRecordFromOutcome(o, { priceBook, providerType: 'openai' }));
  const turn = perTurn === 'paced' ? () => new Promise((resolve) => setTimeout(resolve, 1)) : () => new Promise((resolve) => setImmediate(resolve));
  const every = perTurn === 'paced' ? 1 : perTurn;
  const writes: Array<Promise<boolean>> = [];
  // The index alone copies records already on disk: written before the measured loop.
  if (part === 'index') {
    await Promise.all(built.map((record) => records.write(record)));
    await records.flush();
  }
  const keys = part === 'index' ? built.map((record) => recordKey(record.time, record.id)) : [];
  const indexPid = index?.pid;
  const indexStarted = indexPid === undefined ? 0 : await cpuMs(indexPid);
  const started = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const o = outcomes[i]!;
    if (part === 'all') {
      recorder.expect(o.requestId);
      recorder.record(o);
    } else if (part === 'build') usageRecordFromOutcome(o, { priceBook, providerType: 'openai' });
    else if (part === 'metrics') metrics.observeRecord(built[i]!);
    else if (part === 'store') writes.push(records.write(built[i]!));
    else if (part === 'index') index!.add([keys[i]!]);
    if (i % every === every - 1) await turn();
  }
  await recorder.drain();
  await Promise.all(writes);
  await records.flush();
  await index?.flush();
  const used = process.cpuUsage(started);
  const indexUsed = indexPid === undefined ? 0 : (await cpuMs(indexPid)) - indexStarted;
  await index?.close();
  await records.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
  return { self: (used.user + used.system) / count, index: (indexUsed * 1000) / count };
}

export async function runRecordPathBenchmark(): Promise<string[]> {
  const count = QUICK ? 5_000 : 20_000;
  const lines: string[] = [`${count.toLocaleString('en-US')} outcomes per round; CPU µs per request in this process (user + system), and [in the index process]`];
  await measure('all', Math.min(count, 2_000), 1); // warm-up: the first round would pay for JIT compilation
  for (const perTurn of [1, 8]) {
    const figures: string[] = [];
    for (const part of ['all', 'build', 'metrics', 'store', 'index', 'none'] as const) {
      const { self, index } = await measure(part, count, perTurn);
      figures.push(`${part} ${self.toFixed(1)}${index > 0 ? ` [${index.toFixed(1)}]` : ''}`);
    }
    lines.push(`${perTurn} per turn: ${figures.join(' · ')}`);
  }
  // Paced: a tenth of the outcomes (one a millisecond takes that many milliseconds), group commit and a 10 ms interval.
  for (const flushIntervalMs of [0, 10]) {
    const figures: string[] = [];
    for (const part of ['all', 'store', 'none'] as const) {
      const { self, index } = await measure(part, count / 10, 'paced', flushIntervalMs);
      figures.push(`${part} ${self.toFixed(1)}${index > 0 ? ` [${index.toFixed(1)}]` : ''}`);
    }
    lines.push(`one a millisecond, flush_interval_ms ${flushIntervalMs}: ${figures.join(' · ')}`);
  }
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // `--part=all --per-turn=1` (or `--per-turn=paced`): one round of one part (to profile it with --cpu-prof).
  const part = process.argv.find((arg) => arg.startsWith('--part='))?.slice('--part='.length) as Part | undefined;
  const given = process.argv.find((arg) => arg.startsWith('--per-turn='))?.slice('--per-turn='.length) ?? '1';
  const perTurn = given === 'paced' ? 'paced' : Number(given);
  if (part) {
    const { self, index } = await measure(part, QUICK ? 5_000 : 20_000, perTurn);
    console.log(`${part}, ${perTurn} per turn: ${self.toFixed(1)} µs CPU per request (index process ${index.toFixed(1)})`);
  }
  else for (const line of await runRecordPathBenchmark()) console.log(line);
}
