/**
 * Shared by the benchmarks that run nodes as separate processes (as in production): spawning the mock upstream and
 * `meshgate start`, waiting for their start-up lines, percentiles and resident memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
// @ts-expect-error plain JavaScript (bin/ runs before any TypeScript tooling is loaded)
import { chooseEntry } from '../bin/entry.js';

export const ROOT = join(import.meta.dirname, '..');

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const fmt = (n: number) => n.toFixed(3);

/**
 * Waits longer than the longest timer of work a node defers past its answers (the usage buckets' 1 s, index copies'
 * 200 ms, log batches' 50 ms): read a node's CPU after this, so what its requests cost is not billed to the next round.
 */
/**
 * The config of a node as the HTTP benches run it: the mesh on (listening on loopback), one OpenAI provider in front of
 * the mock for `model`, no concurrency limit in the way of the 32-connection load, its data under `dataDir`.
 */
export function servingNodeToml(dataDir: string, mockUrl: string, model = 'gpt-4o-mini'): string {
  return [
    '[server]', 'port = 0', 'max_concurrent = 4096', '[storage]', `dir = "${dataDir}"`,
    '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', '',
    '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${mockUrl}/v1"`, 'api_key = "test-key"', `models = ["${model}"]`, 'max_concurrent = 4096', '',
  ].join('\n');
}

/**
 * The wait after a round before its CPU is read, so the work a node defers past its answers is billed to the round:
 * its records' group commit, and the SQL index's copy, which starts once the node has written nothing for a second
 * (src/analytics/usage-index.ts) and then takes the index process a few hundred ms for a round's records.
 */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 2_000));

/** Resident memory (VmRSS) or its peak so far (VmHWM) of a process, in MB. */
export async function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024;
}

/**
 * A process's resident memory split into anonymous pages (the JS heap, malloc) and file-backed ones (mostly the
 * node binary's own code, shared with every other node process), in MB, from /proc/<pid>/smaps_rollup.
 */
export async function residentSplitMb(pid: number): Promise<{ anonymous: number; fileBacked: number }> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
  const anonymous = kb('Anonymous') / 1024;
  return { anonymous, fileBacked: kb('Rss') / 1024 - anonymous };
}

/** Where a meshgate node's resident memory goes, in MB: /proc for the pages, its own /metrics for the V8 heap. */
export interface ResidentBreakdown {
  rss: number;
  /** File-backed pages: mostly the node binary's code and read-only data, shared with every other node process. */
  fileBacked: number;
  anonymous: number;
  /** V8's heap as committed (what it has taken from the OS), and its young generation (new space) within it. */
  v8Heap: number;
  newSpace: number;
  /** Memory V8 accounts to the heap's objects but holds outside it (Buffers, external strings). */
  external: number;
  /** The rest of the anonymous pages: malloc (libuv, OpenSSL, V8's own tables), thread stacks. */
  native: number;
}

/** Reads /proc first, then the node's /metrics (prom-client's process metrics, `meshgate_` prefix). */
export async function residentBreakdown(pid: number, url: string): Promise<ResidentBreakdown> {
  const rss = await memoryMb(pid, 'VmRSS');
  const { anonymous, fileBacked } = await residentSplitMb(pid);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const gauge = (pattern: string) => Number(new RegExp(`^meshgate_${pattern} ([\\d.e+]+)$`, 'm').exec(metrics)?.[1] ?? NaN) / 1048576;
  const v8Heap = gauge('nodejs_heap_size_total_bytes');
  const external = gauge('nodejs_external_memory_bytes');
  return { rss, fileBacked, anonymous, v8Heap, newSpace: gauge('nodejs_heap_space_size_total_bytes\\{space="new"\\}'), external, native: anonymous - v8Heap - external };
}

/** One line for a breakdown, e.g. for the bench's memory section. */
export function describeBreakdown(b: ResidentBreakdown): string {
  const f = (n: number) => `${n.toFixed(0)} MB`;
  return `${f(b.rss)} = ${f(b.fileBacked)} file-backed (the node binary's pages, shared) + ${f(b.anonymous)} anonymous: V8 heap ${f(b.v8Heap)} committed (young generation ${f(b.newSpace)}), V8-external ${f(b.external)} (Buffers, external strings), native ${f(b.native)} (malloc, stacks)`;
}

/** A process's parent and CPU time (user + system) so far in ms, from /proc/<pid>/stat (clock ticks of 10 ms). */
async function processStat(pid: number): Promise<{ ppid: number; cpuMs: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis): ppid is the 4th,
  // utime the 14th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), cpuMs: (Number(fields[11]) + Number(fields[12])) * 10 };
}

/**
 * CPU time a process has used so far, in ms: its own (`self`) and its live descendants' (`children`: a meshgate node's
 * SQL index process, which runs on the same cores and does work for every request).
 */
export async function cpuTreeMs(pid: number): Promise<{ self: number; children: number }> {
  const self = (await processStat(pid)).cpuMs;
  const childrenOf = new Map<number, Array<{ pid: number; cpuMs: number }>>();
  for (const name of await readdir('/proc')) {
    const other = Number(name);
    if (!Number.isInteger(other)) continue;
    // A process may end between the listing and the read.
    const stat = await processStat(other).catch(() => undefined);
    if (stat) childrenOf.set(stat.ppid, [...(childrenOf.get(stat.ppid) ?? []), { pid: other, cpuMs: stat.cpuMs }]);
  }
  let children = 0;
  for (const stack = [pid]; stack.length > 0; ) {
    for (const child of childrenOf.get(stack.pop()!) ?? []) {
      children += child.cpuMs;
      stack.push(child.pid);
    }
  }
  return { self, children };
}

/** CPU time (user + system) a process and its live descendants have used so far, in ms (see cpuTreeMs). */
export async function cpuMs(pid: number): Promise<number> {
  const { self, children } = await cpuTreeMs(pid);
  return self + children;
}

/**
 * Which build `meshgate start` runs here: 'bundle' (the start-up bundle, as deployed), 'dist' (the compiled modules:
 * the bundle step did not run after the last tsc) or 'source' (tsx: slower, not representative).
 */
export const meshgateEntry = (): 'bundle' | 'dist' | 'source' => chooseEntry(ROOT);

/**
 * The two builds an A/B script compares (`--baseline=DIR`, then this checkout), each labelled with the entry its node
 * will run (bundle, dist or source); throws the script's usage line when `--baseline` is missing.
 */
export function buildsToCompare(script: string): Array<{ label: string; root: string }> {
  const baseline = process.argv.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length);
  if (!baseline) throw new Error(`usage: npx tsx bench/${script} --baseline=DIR [--this-first] [--quick] (DIR: another checkout with its build)`);
  const builds = [{ label: `baseline (${baseline}, ${chooseEntry(baseline)})`, root: baseline }, { label: `this checkout (${meshgateEntry()})`, root: ROOT }];
  // The build started second measured up to 0.5 ms worse at one connection whatever it was (two runs of one pair with
  // the order swapped); `--this-first` starts this checkout first, so a run in each order tells a build from its place.
  return process.argv.includes('--this-first') ? builds.reverse() : builds;
}

/** A free TCP port on 127.0.0.1, for a program that must be told its port (Portkey). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** Collects a child's stdout lines and resolves the first match of each pattern asked for (bounded). */
export class ChildLines {
  private readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();
  private exited: number | null | undefined;

  /** Every line so far. */
  get all(): readonly string[] {
    return this.lines;
  }

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const wake of this.waiters) wake();
    });
    child.on('exit', (code) => {
      this.exited = code;
      for (const wake of this.waiters) wake();
    });
  }

  wait(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.lines) {
          const match = pattern.exec(line);
          if (match) return done(() => resolve(match));
        }
        if (this.exited !== undefined) done(() => reject(new Error(`process exited with ${this.exited} before printing ${pattern}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${pattern}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** Processes started by a benchmark; `stopAll()` ends them. */
export class Processes {
  private readonly children: ChildProcess[] = [];

  /** The project's mock upstream in its own process (streams: one event every `chunkMs`); resolves its URL. */
  async mock(chunkMs = 0): Promise<string> {
    return (await this.mockProcess(chunkMs)).url;
  }

  /** The mock upstream with its pid (for its CPU time); `answerBytes`: every answer's text about that long. */
  async mockProcess(chunkMs = 0, answerBytes = 0): Promise<{ url: string; pid: number }> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/mock-server.ts'), `--chunk-ms=${chunkMs}`, `--answer-bytes=${answerBytes}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    this.children.push(child);
    return { url: (await new ChildLines(child).wait(/^mock listening on (http:\/\/\S+)$/))[1]!, pid: child.pid! };
  }

  /**
   * bench/minimal-proxy.ts in front of `upstream` (or of one upstream per model); resolves its URL and pid. `nodeArgs`
   * go to node (a probe to preload), `env` is added to its environment.
   */
  async minimalProxy(upstream: string | Record<string, string>, options: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
    const routes = typeof upstream === 'string' ? { 'gpt-4o-mini': upstream } : upstream;
    const child = spawn(process.execPath, ['--import', 'tsx', ...(options.nodeArgs ?? []), join(ROOT, 'bench/minimal-proxy.ts'), JSON.stringify(routes)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...options.env } });
    this.children.push(child);
    return { url: (await new ChildLines(child).wait(/^proxy listening on (http:\/\/\S+)$/))[1]!, pid: child.pid!, stop: () => stopChild(child) };
  }

  /**
   * The Portkey gateway (npm `@portkey-ai/gateway`, a dev dependency) as a peer to compare with, headless; it is told
   * the upstream per request (`x-portkey-provider`, `x-portkey-custom-host`). Resolves its URL and pid.
   */
  async portkey(): Promise<{ url: string; pid: number }> {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/@portkey-ai/gateway/build/start-server.js'), `--port=${port}`, '--headless'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } });
    this.children.push(child);
    await new ChildLines(child).wait(/Ready for connections/);
    return { url: `http://127.0.0.1:${port}`, pid: child.pid! };
  }

  /**
   * `meshgate start` with a config written to `dir`; resolves its URL, pid and output. `nodeArgs` go to node (e.g.
   * `--cpu-prof`), `env` is added to its environment, `root` is the checkout to run (default: this one). Its log (stderr) is kept to warnings unless `logFile` is given: then it logs at its default level
   * into that file, as a deployed node would, so the per-request log line is part of what is measured.
   */
  async node(dir: string, name: string, toml: string, options: { nodeArgs?: string[]; logFile?: string; env?: Record<string, string>; root?: string } = {}): Promise<{ url: string; pid: number; lines: ChildLines; stop: () => Promise<void> }> {
    const config = join(dir, `${name}.toml`);
    await writeFile(config, toml);
    const log = options.logFile ? await open(options.logFile, 'w') : undefined;
    const env = { ...process.env, ...options.env, LOG_LEVEL: options.logFile ? process.env.LOG_LEVEL ?? 'info' : 'warn' };
    const root = options.root ?? ROOT;
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(root, 'bin/meshgate.js'), 'start', '--config', config], { cwd: root, stdio: ['ignore', 'pipe', log?.fd ?? 'inherit'], env });
    void log?.close();
    this.children.push(child);
    const lines = new ChildLines(child);
    // Start-up is bounded generously: on a 2-core machine shared with other work it can take tens of seconds.
    const url = (await lines.wait(/^meshgate listening on (http:\/\/\S+)$/, 120_000))[1]!;
    return { url, pid: child.pid!, lines, stop: () => stopChild(child) };
  }

  stopAll(): void {
    for (const child of this.children) child.kill('SIGTERM');
  }
}

/** SIGTERM, then waits (up to 30 s) for the exit: a profile (`--cpu-prof`) is written on the way out. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}
