/**
 * Where meshgate's CPU goes under the 32-connection load, measured as CPU rather than wall time: `perf record` on the
 * node's process (all its threads) while the bench's closed loop runs, the minimal proxy beside it for comparison.
 * V8's `.cpuprofile` (`--profile`) samples the main thread on a wall-clock timer, so a thread preempted inside a
 * system call is counted there; perf counts what ran, kernel, V8's worker threads (concurrent GC, compilers) and
 * libuv's thread pool included. Needs Linux `perf` (Debian package linux-perf); without it this says so and stops.
 *
 *   npx tsx bench/perf-cpu.ts [--seconds=5] [--top=40]
 *
 * Prints, per process, CPU µs per request (from /proc), then the share of its samples by thread, by binary (`[JIT]`
 * is optimised JavaScript, `node` the binary's C++ and V8 builtins — the interpreter, inline caches, GC) and by symbol.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoop, type HttpTarget } from './load.js';
import { Processes, cpuMs, servingNodeToml, settle } from './processes.js';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const SECONDS = arg('seconds', 5);
const TOP = arg('top', 40);

function perfAvailable(): boolean {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `perf report` as "share  name" lines, sorted by `key` (comm, dso or sym), without call graphs. */
function report(file: string, key: string, top: number): string[] {
  const text = execFileSync('perf', ['report', '-i', file, '--no-children', '--sort', key, '--stdio', '-g', 'none'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  return text.split('\n').filter((line) => /^\s+\d/.test(line)).slice(0, top).map((line) => line.trim().replace(/\s+/, '  '));
}

async function main(): Promise<void> {
  if (!perfAvailable()) {
    console.log('perf-cpu: `perf` is not installed (Debian: apt-get install linux-perf); nothing measured');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-perf-'));
  const processes = new Processes();
  try {
    const mock = await processes.mockProcess(0);
    const node = await processes.node(dir, 'perf', servingNodeToml(join(dir, 'data'), mock.url), { logFile: join(dir, 'meshgate.log'), nodeArgs: ['--perf-basic-prof-only-functions'] });
    const minimal = await processes.minimalProxy({ 'gpt-4o-mini': mock.url });
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'benchmark hello' }] });
    const targets: Array<HttpTarget & { pid: number }> = [
      { name: 'minimal proxy', url: minimal.url, path: '/v1/chat/completions', headers: {}, pid: minimal.pid },
      { name: 'meshgate', url: node.url, path: '/v1/chat/completions', headers: {}, pid: node.pid },
    ];
    for (const target of targets) await closedLoop(target, body, 8, 2_000); // warm-up: JIT, connections
    for (const target of targets) {
      const file = join(dir, `${target.name.replace(' ', '-')}.data`);
      const perf = spawn('perf', ['record', '-F', '999', '-g', '-p', String(target.pid), '-o', file], { stdio: 'ignore' });
      await new Promise((resolve) => setTimeout(resolve, 500)); // perf attaches
      const before = await cpuMs(target.pid);
      const result = await closedLoop(target, body, 32, SECONDS * 1000);
      await settle();
      const cpu = (await cpuMs(target.pid)) - before;
      perf.kill('SIGINT');
      await new Promise((resolve) => perf.once('exit', resolve));
      console.log(`\n## ${target.name}: ${Math.round(result.ok / result.seconds)} req/s, CPU ${((1000 * cpu) / result.ok).toFixed(0)} µs per request (perf's own sampling adds a little)`);
      console.log('by thread:', report(file, 'comm', 6).join(' · '));
      console.log('by binary:', report(file, 'dso', 6).join(' · '));
      console.log('by symbol:');
      for (const line of report(file, 'sym', TOP)) console.log(`  ${line}`);
    }
  } finally {
    processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
