/**
 * The young-generation cap, A/B in one run: one node per `--max-semi-space-size` (4, 8 and 16 MB; `meshgate start`'s
 * re-exec keeps a size given on the command line), the mesh on, in front of the same mock. Each is warmed up, then
 * measured in interleaved rounds of the 32-connection closed loop: CPU per request (the node's user + system time over
 * the requests it answered), resident memory idle after the warm-up and its peak under load (VmHWM), and where the
 * resident memory is (file-backed, V8 heap, V8-external, native) after the warm-up and after the load.
 *
 *   npx tsx bench/semi-space.ts [--quick] [--sizes=4,8,16] [--env=MALLOC_TRIM_THRESHOLD_=131072,…]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoop, type HttpTarget } from './load.js';
import { Processes, cpuMs, describeBreakdown, memoryMb, meshgateEntry, residentBreakdown, settle, type ResidentBreakdown } from './processes.js';

const QUICK = process.argv.includes('--quick');
const SIZES = (process.argv.find((a) => a.startsWith('--sizes='))?.slice(8) ?? '4,8,16').split(',').map(Number);
/** Each `--env=NAME=VALUE,…`: one more node per size with that environment (e.g. glibc's MALLOC_TRIM_THRESHOLD_). */
const EXTRA_ENVS = process.argv.filter((a) => a.startsWith('--env=')).map((a) => a.slice(6));
const VARIANTS = SIZES.flatMap((size) => [
  { size, label: `--max-semi-space-size=${size}`, env: {} as Record<string, string> },
  ...EXTRA_ENVS.map((extra) => ({ size, label: `--max-semi-space-size=${size} ${extra}`, env: Object.fromEntries(extra.split(',').map((pair) => pair.split('=') as [string, string])) })),
]);
const MODEL = 'gpt-4o-mini';
const BODY = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'benchmark hello' }] });

export async function runSemiSpaceBenchmark(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-semi-'));
  const processes = new Processes();
  const loadAtStart = loadavg()[0]!;
  try {
    const mock = await processes.mockProcess(0);
    const nodes: { label: string; target: HttpTarget; pid: number; idle: number; idleBreakdown?: ResidentBreakdown; cpu: number; ok: number; errors: number }[] = [];
    for (const [index, { size, label, env }] of VARIANTS.entries()) {
      const node = await processes.node(dir, `semi-${index}`, [
        '[server]', 'port = 0', 'max_concurrent = 4096', '[storage]', `dir = "${join(dir, `data-${index}`)}"`,
        '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', '',
        '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${mock.url}/v1"`, 'api_key = "test-key"', `models = ["${MODEL}"]`, 'max_concurrent = 4096',
      ].join('\n'), { nodeArgs: [`--max-semi-space-size=${size}`], env, logFile: join(dir, `semi-${index}.log`) });
      nodes.push({ label, target: { name: label, url: node.url, path: '/v1/chat/completions', headers: {} }, pid: node.pid, idle: 0, cpu: 0, ok: 0, errors: 0 });
    }
    for (const node of nodes) {
      const warm = await closedLoop(node.target, BODY, 8, QUICK ? 500 : 1500);
      if (warm.errors > 0 || warm.ok === 0) throw new Error(`${node.target.name}: ${warm.errors} of ${warm.ok + warm.errors} warm-up requests failed`);
    }
    for (const node of nodes) {
      node.idle = await memoryMb(node.pid, 'VmRSS');
      node.idleBreakdown = await residentBreakdown(node.pid, node.target.url);
    }
    for (let round = 0; round < (QUICK ? 3 : 8); round++) {
      // Rotate the order each round so the machine's drift falls on every size alike.
      for (const node of [...nodes.slice(round % nodes.length), ...nodes.slice(0, round % nodes.length)]) {
        const before = await cpuMs(node.pid);
        const result = await closedLoop(node.target, BODY, 32, QUICK ? 1500 : 3000);
        await settle();
        node.cpu += (await cpuMs(node.pid)) - before;
        node.ok += result.ok;
        node.errors += result.errors;
      }
    }
    const out = [`young generation cap, one node per variant (${meshgateEntry()}), mesh on, 32 connections; load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`];
    for (const node of nodes) {
      const peak = await memoryMb(node.pid, 'VmHWM');
      out.push(`  ${node.label.padEnd(24)}  CPU per request ${((1000 * node.cpu) / node.ok).toFixed(0).padStart(5)} µs over ${node.ok} requests (${node.errors} errors); RSS idle after warm-up ${node.idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, after load ${(await memoryMb(node.pid, 'VmRSS')).toFixed(0)} MB`);
      out.push(`      idle after warm-up: ${describeBreakdown(node.idleBreakdown!)}`, `      after the load:     ${describeBreakdown(await residentBreakdown(node.pid, node.target.url))}`);
    }
    return out;
  } finally {
    processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) for (const line of await runSemiSpaceBenchmark()) console.log(line);
