/**
 * The HTTP hot path, measured side by side in one run: first what this machine allows (the mock upstream answered
 * directly, and bench/minimal-proxy.ts — the least a Node proxy can do), then meshgate (its compiled build, the mesh
 * on) and the Portkey gateway (npm `@portkey-ai/gateway`) in front of the same mock. Every process has its own PID on
 * the same cores; rounds are interleaved (direct, minimal, meshgate, Portkey, again …) so the VM's drift hits all alike.
 *
 * Load: undici `fetch` on one connection (latency), a closed loop of 32 keep-alive connections (rate; see load.ts).
 * Each target of issue 16 is printed with its verdict next to the figures it compares. `--profile` starts meshgate
 * with `--cpu-prof` and prints where the profile went (summarise it with `npx tsx bench/cpu-profile.ts FILE`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { closedLoop, oneConnection, sequential, streamTimes, type HttpTarget } from './load.js';
import { Processes, cpuMs, cpuTreeMs, describeBreakdown, memoryMb, meshgateEntry, percentile, residentBreakdown, settle } from './processes.js';
import { mb, ms, rate, verdictLine, type Verdict } from './verdict.js';
import { IDLE_LATEST_MS, longIdleLatestMs } from '../src/gateway/idle-watch.js';
import { serverSchema } from '../src/core-config/schema.js';

const QUICK = process.argv.includes('--quick');
const PROFILE = process.argv.includes('--profile');

/**
 * Models the mock upstreams serve: answers at once; streams one event every 10 ms; one every 500 ms (a stream of about
 * 14 s: long enough for all of a thousand to be open at once even when opening them is slow).
 */
const FAST = 'gpt-4o-mini';
const GAPS = 'gaps-10ms';
const SLOW = 'slow-500ms';
/** For the request-size rounds: a model whose context (about 1M tokens in the price catalog) holds a 1 MB prompt. */
const LARGE = 'gpt-4.1-mini';
/** Served by a mock whose every answer is 100 KB of text (the answer-size round). */
const BIG_ANSWER = 'big-answer';

const chat = (model: string, content: string, stream = false) =>
  JSON.stringify({ model, messages: [{ role: 'user', content }], ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) });
/** 20 words: the mock streams one event per word of its echo (about 28 events with role, finish, usage and [DONE]). */
const TWENTY_WORDS = Array.from({ length: 20 }, (_, i) => `word${i}`).join(' ');
/** Plain prose of about `bytes` bytes (no secrets or PII for the sanitizer to act on: what it costs to scan clean text). */
const prose = (bytes: number) => 'The quick brown fox jumps over the lazy dog while the gateway forwards it. '.repeat(Math.ceil(bytes / 75)).slice(0, bytes);

interface Measured extends HttpTarget {
  pid: number;
}

/** What the first line says about the build the node runs. */
const ENTRY_DESCRIPTION = {
  bundle: 'its compiled build (the start-up bundle, dist/bundle/)',
  dist: 'its compiled modules (dist/) — the bundle is older than src/: run `npm run build` for representative figures',
  source: 'its TypeScript sources: dist/ is older than src/ — run `npm run build` for representative figures',
} as const;

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

export async function runGatewayBenchmark(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-'));
  const processes = new Processes();
  const out: string[] = [];
  const loadAtStart = loadavg()[0]!;
  try {
    const fast = await processes.mockProcess(0);
    const gaps = await processes.mockProcess(10);
    const slow = await processes.mockProcess(500);
    const big = await processes.mockProcess(0, 100_000);
    const upstreams = { [FAST]: fast.url, [LARGE]: fast.url, [GAPS]: gaps.url, [SLOW]: slow.url, [BIG_ANSWER]: big.url };
    const provider = (id: string, url: string, models: string[]) =>
      `[[providers]]\nid = "${id}"\ntype = "openai"\nbase_url = "${url}/v1"\napi_key = "test-key"\nmodels = ${JSON.stringify(models)}\nmax_concurrent = 4096\n`;
    const profileDir = join(dir, 'profile');
    const node = await processes.node(dir, 'bench', [
      '[server]', 'port = 0', 'max_concurrent = 4096', '[storage]', `dir = "${join(dir, 'data')}"`,
      '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', '',
      provider('mock', fast.url, [FAST, LARGE]), provider('gaps', gaps.url, [GAPS]), provider('slow', slow.url, [SLOW]), provider('big', big.url, [BIG_ANSWER]),
    ].join('\n'), { nodeArgs: PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [], logFile: join(dir, 'meshgate.log') });
    const startedAt = Date.now();
    const startRss = await memoryMb(node.pid, 'VmRSS');
    const minimal = await processes.minimalProxy(upstreams);
    const portkey = await processes.portkey();
    // Idle with nothing served, once it counts as idle (IDLE_LATEST_MS): its first idle spell collects what start-up left.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + IDLE_LATEST_MS + 2_000 - Date.now())));
    const startIdleRss = await memoryMb(node.pid, 'VmRSS');

    const direct: Measured = { name: 'direct', url: fast.url, path: '/v1/chat/completions', headers: { authorization: 'Bearer test-key' }, pid: fast.pid };
    const proxy: Measured = { name: 'minimal proxy', url: minimal.url, path: '/v1/chat/completions', headers: {}, pid: minimal.pid };
    const meshgate: Measured = { name: 'meshgate', url: node.url, path: '/v1/chat/completions', headers: {}, pid: node.pid };
    const peer: Measured = {
      name: 'Portkey', url: portkey.url, path: '/v1/chat/completions', pid: portkey.pid,
      headers: { authorization: 'Bearer test-key', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${fast.url}/v1` },
    };
    const all = [direct, proxy, meshgate, peer];
    const body = chat(FAST, 'benchmark hello');

    // Warm-up: JIT, keep-alive connections, the gateway's caches.
    for (const target of all) {
      const warm = await closedLoop(target, body, 8, QUICK ? 500 : 1500);
      if (warm.errors > 0 || warm.ok === 0) throw new Error(`${target.name}: ${warm.errors} of ${warm.ok + warm.errors} warm-up requests failed`);
    }
    const warmRss = await memoryMb(node.pid, 'VmRSS');
    const warmBreakdown = await residentBreakdown(node.pid, node.url);
    // What a node holds once it idles (no request for IDLE_AFTER_MS, counted within IDLE_LATEST_MS: its event-loop monitor stopped, its memory reclaimed), not just after the load.
    await new Promise((resolve) => setTimeout(resolve, IDLE_LATEST_MS + 2_000));
    const idleRss = await memoryMb(node.pid, 'VmRSS');
    const idleBreakdown = await residentBreakdown(node.pid, node.url);

    // 1 connection, undici fetch: latency.
    const rounds = QUICK ? 4 : 10;
    const agents = new Map(all.map((t) => [t.name, oneConnection()]));
    const times = new Map<string, number[]>(all.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const target of all) times.get(target.name)!.push(...(await sequential(target, body, QUICK ? 100 : 200, agents.get(target.name)!)));
    }
    const lat = new Map([...times].map(([name, list]) => {
      const s = sorted(list);
      return [name, { p50: percentile(s, 50), p99: percentile(s, 99) }];
    }));
    const added = (name: string) => ({ p50: lat.get(name)!.p50 - lat.get('direct')!.p50, p99: lat.get(name)!.p99 - lat.get('direct')!.p99 });

    // 32 connections, closed loop: rate and CPU per request.
    const totals = new Map(all.map((t) => [t.name, { ok: 0, errors: 0, seconds: 0, cpu: 0, childCpu: 0, latencies: [] as number[] }]));
    for (let r = 0; r < (QUICK ? 2 : 5); r++) {
      for (const target of all) {
        const cpuBefore = await cpuTreeMs(target.pid);
        const result = await closedLoop(target, body, 32, QUICK ? 1500 : 3000);
        // Work a target defers past the answer (meshgate's usage buckets each second, the SQL index's copy once it is
        // quiet, log batches) is part of what the requests cost: wait it out before reading the CPU, so it is not billed to the
        // next target's round instead.
        await settle();
        const total = totals.get(target.name)!;
        const cpuAfter = await cpuTreeMs(target.pid);
        total.cpu += cpuAfter.self + cpuAfter.children - cpuBefore.self - cpuBefore.children;
        total.childCpu += cpuAfter.children - cpuBefore.children;
        total.ok += result.ok;
        total.errors += result.errors;
        total.seconds += result.seconds;
        total.latencies.push(...result.latencies);
      }
    }
    const rates = new Map([...totals].map(([name, t]) => [name, t.ok / t.seconds]));
    const peakRss = await memoryMb(node.pid, 'VmHWM');

    const describe = (name: string) => {
      const a = added(name);
      const t = totals.get(name)!;
      const s = sorted(t.latencies);
      return `${name.padEnd(14)} added at 1 conn p50 ${ms(a.p50)} / p99 ${ms(a.p99)}; 32 conns ${rate(rates.get(name)!)} (${((100 * rates.get(name)!) / rates.get('direct')!).toFixed(0)}% of direct, p50 ${ms(percentile(s, 50))} / p99 ${ms(percentile(s, 99))}), CPU ${((1000 * t.cpu) / Math.max(1, t.ok)).toFixed(0)} µs per request${t.childCpu > 0 ? ` (${((1000 * t.childCpu) / Math.max(1, t.ok)).toFixed(0)} µs of it in its child processes: the SQL index)` : ''}${t.errors ? `, ${t.errors} errors` : ''}`;
    };
    out.push(`meshgate runs from ${ENTRY_DESCRIPTION[meshgateEntry()]}`);
    out.push('— the box (what this machine allows a proxy):');
    out.push(`direct         1 conn p50 ${ms(lat.get('direct')!.p50)} / p99 ${ms(lat.get('direct')!.p99)}; 32 conns ${rate(rates.get('direct')!)}, mock CPU ${((1000 * totals.get('direct')!.cpu) / totals.get('direct')!.ok).toFixed(0)} µs per request`);
    out.push(describe('minimal proxy'));
    out.push('— the gateways, same run:');
    out.push(describe('meshgate'));
    out.push(describe('Portkey'));

    const m = { rate: rates.get('meshgate')!, added: added('meshgate'), p99: lat.get('meshgate')!.p99 };
    const floor = { rate: rates.get('minimal proxy')!, added: added('minimal proxy'), p99: lat.get('minimal proxy')!.p99 };
    const verdicts: Verdict[] = [
      { target: 'rate at 32 connections ≥ 80% of the minimal proxy', measured: `${rate(m.rate)} vs ${rate(floor.rate)} = ${((100 * m.rate) / floor.rate).toFixed(0)}%`, met: m.rate >= 0.8 * floor.rate },
      {
        target: 'rate at 32 connections ≥ 5× Portkey', measured: `${rate(m.rate)} vs ${rate(rates.get('Portkey')!)} = ${(m.rate / rates.get('Portkey')!).toFixed(1)}×`, met: m.rate >= 5 * rates.get('Portkey')!,
        ...(5 * rates.get('Portkey')! > floor.rate ? { beyondMachine: `5× Portkey (${rate(5 * rates.get('Portkey')!)}) is more than the minimal proxy's own ${rate(floor.rate)}` } : {}),
      },
      { target: 'added p50 at 1 connection ≤ minimal proxy + 0.15 ms', measured: `${ms(m.added.p50)} vs ${ms(floor.added.p50)} + 0.15`, met: m.added.p50 <= floor.added.p50 + 0.15 },
      { target: 'p99 at 1 connection ≤ the minimal proxy\'s', measured: `${ms(m.p99)} vs ${ms(floor.p99)}`, met: m.p99 <= floor.p99 },
    ];

    // Streams: time to first token (mock answers at once), then the gaps between chunks (mock sends one every 10 ms).
    const streamed = [direct, proxy, meshgate];
    const ttft = new Map<string, number[]>(streamed.map((t) => [t.name, []]));
    const gapsSeen = new Map<string, number[]>(streamed.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const target of streamed) {
        for (let i = 0; i < (QUICK ? 50 : 100); i++) ttft.get(target.name)!.push((await streamTimes(target, chat(FAST, 'benchmark hello', true), agents.get(target.name)!)).ttft);
      }
    }
    const gapTarget = (t: Measured): Measured => (t === direct ? { ...t, url: gaps.url } : t);
    for (let r = 0; r < (QUICK ? 2 : 4); r++) {
      for (const target of streamed) {
        for (let i = 0; i < (QUICK ? 3 : 5); i++) gapsSeen.get(target.name)!.push(...(await streamTimes(gapTarget(target), chat(GAPS, TWENTY_WORDS, true), oneConnection())).gaps);
      }
    }
    const ttftAdded = (name: string) => median(ttft.get(name)!) - median(ttft.get('direct')!);
    const gapStats = (name: string) => {
      const list = sorted(gapsSeen.get(name)!);
      const deviation = sorted(list.map((g) => Math.abs(g - 10)));
      return { p1: percentile(list, 1), p50: percentile(list, 50), p99: percentile(list, 99), dev99: percentile(deviation, 99), n: list.length };
    };
    const g = new Map(streamed.map((t) => [t.name, gapStats(t.name)]));
    out.push('— streams:');
    out.push(`time to first token p50: direct ${ms(median(ttft.get('direct')!))}; added: minimal proxy ${ms(ttftAdded('minimal proxy'))}, meshgate ${ms(ttftAdded('meshgate'))}`);
    for (const [name, s] of g) out.push(`gaps between chunks (mock: one every 10 ms), ${name.padEnd(13)} p1 ${ms(s.p1)} / p50 ${ms(s.p50)} / p99 ${ms(s.p99)}; |gap − 10 ms| at p99 ${ms(s.dev99)} (${s.n} gaps)`);
    verdicts.push(
      { target: 'added time to first token ≤ minimal proxy + 0.2 ms', measured: `${ms(ttftAdded('meshgate'))} vs ${ms(ttftAdded('minimal proxy'))} + 0.2`, met: ttftAdded('meshgate') <= ttftAdded('minimal proxy') + 0.2 },
      {
        target: 'chunk gaps within ±1 ms at p99', measured: `|gap − 10 ms| at p99 ${ms(g.get('meshgate')!.dev99)} (direct ${ms(g.get('direct')!.dev99)}, minimal proxy ${ms(g.get('minimal proxy')!.dev99)})`, met: g.get('meshgate')!.dev99 <= 1,
        ...(g.get('direct')!.dev99 > 1 ? { beyondMachine: `the mock's own stream, read directly, already misses it (${ms(g.get('direct')!.dev99)})` } : {}),
      },
    );
    for (const target of [proxy, meshgate]) out.push(await concurrentStreams(target, QUICK ? 300 : 1000));

    // Request size: added latency of 1 KB, 100 KB and 1 MB prompts (parse, sanitize, serialise).
    out.push('— request and answer size (added p50 at 1 connection, vs direct):');
    const sizes = [1_000, 100_000, 1_000_000];
    const sizeAdded: Record<string, number[]> = { 'minimal proxy': [], meshgate: [] };
    for (const bytes of sizes) {
      const sized = chat(LARGE, prose(bytes));
      const count = bytes >= 1_000_000 ? (QUICK ? 5 : 10) : bytes >= 100_000 ? (QUICK ? 15 : 30) : QUICK ? 50 : 100;
      const samples = new Map<string, number[]>(streamed.map((t) => [t.name, []]));
      for (let r = 0; r < 3; r++) for (const target of streamed) samples.get(target.name)!.push(...(await sequential(target, sized, count, agents.get(target.name)!)));
      const d = median(samples.get('direct')!);
      for (const name of ['minimal proxy', 'meshgate']) sizeAdded[name]!.push(median(samples.get(name)!) - d);
    }
    for (const [name, list] of Object.entries(sizeAdded)) {
      out.push(`${name.padEnd(14)} ${sizes.map((b, i) => `${b >= 1_000_000 ? `${b / 1_000_000} MB` : `${b / 1000} KB`} ${ms(list[i]!)}`).join(', ')} (${((list[2]! - list[1]!) / 9).toFixed(2)} ms per 100 KB from 100 KB to 1 MB)`);
    }
    // Answer size: a 100 KB answer passed through (the upstream's bytes written back; its usage read from the end).
    const answers = new Map<string, number[]>(streamed.map((t) => [t.name, []]));
    const bigBody = chat(BIG_ANSWER, 'benchmark hello');
    for (let r = 0; r < rounds; r++) {
      for (const target of streamed) answers.get(target.name)!.push(...(await sequential(target === direct ? { ...target, url: big.url } : target, bigBody, QUICK ? 20 : 40, agents.get(target.name)!)));
    }
    const bigDirect = median(answers.get('direct')!);
    out.push(`a 100 KB answer (pass-through): added p50 minimal proxy ${ms(median(answers.get('minimal proxy')!) - bigDirect)}, meshgate ${ms(median(answers.get('meshgate')!) - bigDirect)} (direct ${ms(bigDirect)})`);

    // Idle after the whole run (every load above): first once malloc's pages went back (IDLE_AFTER_MS), then once the
    // node has collected its heap (server.idle_heap_reclaim_seconds, the default here), as a node idles in service.
    for (const agent of agents.values()) await agent.close();
    // The node runs with the default (its config sets no idle_heap_reclaim_seconds). --quick does not wait for it.
    const heapAfterMs = serverSchema.parse({}).idle_heap_reclaim_seconds * 1000;
    await new Promise((resolve) => setTimeout(resolve, IDLE_LATEST_MS + 2_000));
    const trimmedRss = await memoryMb(node.pid, 'VmRSS');
    if (!QUICK) await new Promise((resolve) => setTimeout(resolve, longIdleLatestMs(heapAfterMs) - IDLE_LATEST_MS));
    const collectedRss = QUICK ? trimmedRss : await memoryMb(node.pid, 'VmRSS');
    const collectedBreakdown = await residentBreakdown(node.pid, node.url);

    out.push('— memory:');
    out.push(`meshgate resident memory (mesh on): at start ${mb(startRss)}, idle ${(IDLE_LATEST_MS + 2_000) / 1000} s after start with nothing served ${mb(startIdleRss)} (start-up's garbage collected), right after the warm-up ${mb(warmRss)}, idle ${(IDLE_LATEST_MS + 2_000) / 1000} s after it ${mb(idleRss)}, peak under the 32-connection load ${mb(peakRss)}`);
    out.push(`meshgate right after the warm-up: ${describeBreakdown(warmBreakdown)}`);
    out.push(`meshgate idle after the warm-up: ${describeBreakdown(idleBreakdown)}`);
    if (QUICK) {
      out.push(`meshgate idle after the whole run: ${mb(trimmedRss)} ${(IDLE_LATEST_MS + 2_000) / 1000} s after its last request (malloc's pages given back; --quick does not wait for the heap collection) = ${describeBreakdown(collectedBreakdown)}`);
    } else {
      out.push(`meshgate idle after the whole run: ${mb(trimmedRss)} ${(IDLE_LATEST_MS + 2_000) / 1000} s after its last request (malloc's pages given back), ${mb(collectedRss)} ${(longIdleLatestMs(heapAfterMs) + 2_000) / 1000} s after it (its heap collected: server.idle_heap_reclaim_seconds = ${heapAfterMs / 1000}) = ${describeBreakdown(collectedBreakdown)}`);
    }
    const when = QUICK ? `${(IDLE_LATEST_MS + 2_000) / 1000} s` : `${(longIdleLatestMs(heapAfterMs) + 2_000) / 1000} s (its heap collected)`;
    verdicts.push({ target: 'idle RSS ≤ 100 MB with the mesh on', measured: `${mb(startIdleRss)} idle after start-up, ${mb(collectedRss)} ${when} after the whole run (${mb(idleRss)} ${(IDLE_LATEST_MS + 2_000) / 1000} s after the warm-up)`, met: startIdleRss <= 100 && collectedRss <= 100 });

    // Other work on the same cores moves every figure: the reader should know how busy the machine was.
    out.push(`— machine load average (1 min) ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${availableParallelism()} cores`);
    out.push('— targets (issue 16):');
    out.push(...verdicts.map(verdictLine));
    if (PROFILE) {
      await node.stop();
      out.push(`CPU profile of meshgate: ${profileDir} (kept; summarise with npx tsx bench/cpu-profile.ts ${profileDir}/*.cpuprofile)`);
    }
    return out;
  } finally {
    processes.stopAll();
    if (!PROFILE) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `count` streams open at once through `target` (the mock sends one event every 500 ms, about 28 per stream): the
 * process's resident memory and CPU time, per stream.
 */
async function concurrentStreams(target: Measured, count: number): Promise<string> {
  const pool = new Pool(target.url, { connections: count, keepAliveTimeout: 30_000 });
  const body = chat(SLOW, TWENTY_WORDS, true);
  const headers = { 'content-type': 'application/json', ...target.headers };
  const before = await memoryMb(target.pid, 'VmRSS');
  const cpuBefore = await cpuMs(target.pid);
  let open = 0;
  let peakOpen = 0;
  let peakRss = before;
  const sampler = setInterval(() => void memoryMb(target.pid, 'VmRSS').then((rss) => (peakRss = Math.max(peakRss, rss))), 100);
  const started = performance.now();
  let failed = 0;
  await Promise.all(Array.from({ length: count }, async () => {
    const res = await pool.request({ method: 'POST', path: target.path, headers, body });
    open += 1;
    peakOpen = Math.max(peakOpen, open);
    if (res.statusCode !== 200) failed += 1;
    await res.body.dump();
    open -= 1;
  }));
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  const cpu = (await cpuMs(target.pid)) - cpuBefore;
  await pool.close();
  return `${count} concurrent slow streams through ${target.name} (one event every 500 ms): ${peakOpen} open at once, RSS +${(peakRss - before).toFixed(0)} MB (${((1024 * (peakRss - before)) / peakOpen).toFixed(0)} KB per stream), CPU ${(cpu / count).toFixed(2)} ms per stream (${((100 * cpu) / 1000 / seconds).toFixed(0)}% of a core over ${seconds.toFixed(1)} s)${failed ? `, ${failed} failed` : ''}`;
}
