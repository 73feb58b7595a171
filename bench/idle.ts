/**
 * Idle memory and wake-ups, side by side in one run: one node per build (the mesh on, logging at its default level
 * into a file) in front of one mock, each read at start, once idle after start-up with nothing served (IDLE_LATEST_MS
 * after its start: the first idle spell collects what start-up left), right after a warm-up (32 connections, `--load` seconds,
 * default 6), once it counts as idle (IDLE_LATEST_MS: malloc's pages given back) and `--idle` seconds after the
 * warm-up (default: just past the default `server.idle_heap_reclaim_seconds`, when a node has collected its heap); with
 * `--strace`, the system calls each node makes in 10 s of idle (`strace -c`: `epoll_pwait` counts its wake-ups).
 *
 *   npx tsx bench/idle.ts [--roots=DIR,DIR] [--load=6] [--idle=64.5] [--strace]
 *
 * `--roots` are checkouts with their build (default: this one; how to make a baseline is at the top of bench/ab.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoop, type HttpTarget } from './load.js';
import { IDLE_LATEST_MS, longIdleLatestMs } from '../src/gateway/idle-watch.js';
import { serverSchema } from '../src/core-config/schema.js';
import { Processes, ROOT, describeBreakdown, residentBreakdown } from './processes.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const ROOTS = (arg('roots') ?? ROOT).split(',');
const LONG_IDLE_MS = longIdleLatestMs(serverSchema.parse({}).idle_heap_reclaim_seconds * 1000);
const IDLE_SECONDS = Number(arg('idle') ?? (LONG_IDLE_MS + 2_000) / 1000);
const LOAD_SECONDS = Number(arg('load') ?? 6);
const STRACE = process.argv.includes('--strace');
const MODEL = 'gpt-4o-mini';
const BODY = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'benchmark hello' }] });

/** The calls of `pid` (all its threads) over `seconds`, as strace's summary table. */
async function syscalls(pid: number, file: string, seconds: number): Promise<string> {
  const child = spawn('strace', ['-f', '-c', '-p', String(pid), '-o', file], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const timer = setTimeout(() => child.kill('SIGINT'), seconds * 1000);
  await exited;
  clearTimeout(timer);
  return readFile(file, 'utf8').catch(() => '(strace wrote nothing: is it installed, and may it trace?)');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-idle-'));
  const processes = new Processes();
  const load = [loadavg()[0]!];
  try {
    const mock = await processes.mockProcess(0);
    const nodes: Array<{ root: string; pid: number; url: string; target: HttpTarget; startedAt: number; warmedAt: number }> = [];
    for (const [i, root] of ROOTS.entries()) {
      const node = await processes.node(dir, `idle-${i}`, [
        '[server]', 'port = 0', 'max_concurrent = 4096', '[storage]', `dir = "${join(dir, `data-${i}`)}"`,
        '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', '',
        '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${mock.url}/v1"`, 'api_key = "test-key"', `models = ["${MODEL}"]`, 'max_concurrent = 4096',
      ].join('\n'), { root, logFile: join(dir, `idle-${i}.log`) });
      nodes.push({ root, pid: node.pid, url: node.url, target: { name: root, url: node.url, path: '/v1/chat/completions', headers: {} }, startedAt: Date.now(), warmedAt: 0 });
    }
    const report = async (when: string) => {
      for (const n of nodes) console.log(`${n.root} ${when}: ${describeBreakdown(await residentBreakdown(n.pid, n.url))}`);
    };
    await report('at start');
    // Once it counts as idle with nothing served: the first idle spell after start-up collects what start-up left.
    for (const n of nodes) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, n.startedAt + IDLE_LATEST_MS + 2_000 - Date.now())));
      console.log(`${n.root} idle ${(IDLE_LATEST_MS + 2_000) / 1000} s after start, nothing served: ${describeBreakdown(await residentBreakdown(n.pid, n.url))}`);
    }
    // One node after the other, so each node's idle readings are as long after its own last request as the label says.
    for (const n of nodes) {
      const warm = await closedLoop(n.target, BODY, 32, LOAD_SECONDS * 1000);
      if (warm.errors > 0 || warm.ok === 0) throw new Error(`${n.root}: ${warm.errors} of ${warm.ok + warm.errors} warm-up requests failed`);
      n.warmedAt = Date.now();
    }
    await report('right after the warm-up');
    const after = async (ms: number, when: string) => {
      for (const n of nodes) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, n.warmedAt + ms - Date.now())));
        console.log(`${n.root} ${when}: ${describeBreakdown(await residentBreakdown(n.pid, n.url))}`);
      }
    };
    if (IDLE_SECONDS * 1000 > IDLE_LATEST_MS + 2_000) await after(IDLE_LATEST_MS + 2_000, `idle ${(IDLE_LATEST_MS + 2_000) / 1000} s after the warm-up`);
    await after(IDLE_SECONDS * 1000, `idle ${IDLE_SECONDS} s after the warm-up`);
    if (STRACE) {
      for (const n of nodes) console.log(`${n.root}, system calls over 10 s of idle:\n${await syscalls(n.pid, join(dir, `strace-${n.pid}.txt`), 10)}`);
    }
    load.push(loadavg()[0]!);
    console.log(`machine load average (1 min) ${load.map((l) => l.toFixed(1)).join(' at the start, ')} at the end`);
  } finally {
    processes.stopAll();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

await main();
