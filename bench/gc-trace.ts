/**
 * What garbage collection costs a node per request, from V8's own accounts: one node per build (mesh on, logging into a
 * file, as deployed) in front of one mock, started with `--trace-gc-nvp` (one line of figures per collection on its
 * stdout), under the 32-connection load in interleaved rounds. Per request it prints the bytes allocated (V8's exact
 * count between scavenges, not a sample), what survived a scavenge (copied within the young generation) and what was
 * promoted (survived a second one, so it lives on until a mark-compact), scavenges and their pause per 1,000 requests
 * (the main thread's part of each, and the helper threads' beside it), mark-compacts, and the CPU per request of the
 * node by thread (main, V8's workers: GC and compilers; libuv's pool) and of its child processes (the SQL index).
 * No profiler is attached, so the node runs at its own speed; the figures of one run compare, the bytes best.
 *
 *   npx tsx bench/gc-trace.ts [--baseline=DIR [--this-first]] [--rounds=4] [--sequence]
 *
 * `--baseline` runs another checkout's build beside this one (made as bench/ab.ts says); `--sequence` also prints, per
 * scavenge of the last round, promoted/copied KB: what is copied once and then promoted is what outlived two of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoop } from './load.js';
import { buildsToCompare, meshgateEntry, Processes, ROOT, servingNodeToml, settle } from './processes.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'benchmark hello' }] });
/** The figures of a scavenge line this prints (V8's names); `pause` is the main thread's stop. */
const FIELDS = ['pause', 'allocated', 'new_space_survived', 'promoted', 'background.scavenge.parallel'] as const;

/** CPU (ms) of each thread kind of a process so far: its main thread, V8's workers, libuv's pool, the rest. */
function threadCpuMs(pid: number): Record<string, number> {
  const byKind: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const kind = Number(tid) === pid ? 'main' : /^V8 ?(Worker|DefaultWorke)/i.test(name) ? 'v8 workers' : /^libuv-worker/i.test(name) ? 'libuv pool' : 'other';
    byKind[kind] = (byKind[kind] ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10;
  }
  return byKind;
}

/** CPU (ms) so far of the child processes of `ppid` (the SQL index process). */
function childrenCpuMs(ppid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(fields[1]) === ppid) total += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

interface Totals { requests: number; cpu: Record<string, number>; children: number; scavenges: number; markCompacts: number; markCompactPause: number; sums: Record<string, number> }

/** Sums the collections of `lines` (nvp lines of --trace-gc-nvp) into `totals`. */
function addCollections(lines: readonly string[], totals: Totals): void {
  for (const line of lines) {
    const kind = / gc=(\w+)/.exec(line)?.[1];
    if (kind === undefined) continue;
    const value = (field: string) => Number(new RegExp(`(?:^| )${field.replace('.', '\\.')}=([\\d.]+)`).exec(line)?.[1] ?? 0);
    if (kind === 's') {
      totals.scavenges++;
      for (const field of FIELDS) totals.sums[field] = (totals.sums[field] ?? 0) + value(field);
    } else if (kind === 'mc' || kind === 'mmc') {
      totals.markCompacts++;
      totals.markCompactPause += value('pause');
    }
  }
}

async function main(): Promise<void> {
  const rounds = Number(arg('rounds', '4'));
  const builds = process.argv.some((a) => a.startsWith('--baseline=')) ? buildsToCompare('gc-trace.ts') : [{ label: `this checkout (${meshgateEntry()})`, root: ROOT }];
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-gc-trace-'));
  const processes = new Processes();
  try {
    const mock = await processes.mockProcess(0);
    const nodes = [];
    for (const [i, build] of builds.entries()) {
      const node = await processes.node(dir, `n${i}`, servingNodeToml(join(dir, `data-${i}`), mock.url), { root: build.root, logFile: join(dir, `n${i}.log`), nodeArgs: ['--trace-gc-nvp'] });
      const totals: Totals = { requests: 0, cpu: {}, children: 0, scavenges: 0, markCompacts: 0, markCompactPause: 0, sums: {} };
      nodes.push({ build, node, totals, target: { name: build.label, url: node.url, path: '/v1/chat/completions', headers: {} }, last: [] as string[] });
    }
    const load = loadavg()[0]!;
    for (const n of nodes) await closedLoop(n.target, BODY, 32, 4_000);
    await settle();
    for (let round = 0; round < rounds; round++) {
      // Interleaved, the order alternating: the VM's drift falls on every build alike.
      for (const n of round % 2 === 0 ? nodes : [...nodes].reverse()) {
        const from = n.node.lines.all.length;
        const cpuBefore = threadCpuMs(n.node.pid);
        const childrenBefore = childrenCpuMs(n.node.pid);
        const result = await closedLoop(n.target, BODY, 32, 3_000);
        await settle(); // the work deferred past the answers (records, the index) counts too
        const cpuAfter = threadCpuMs(n.node.pid);
        n.totals.requests += result.ok;
        n.totals.children += childrenCpuMs(n.node.pid) - childrenBefore;
        for (const [kind, ms] of Object.entries(cpuAfter)) n.totals.cpu[kind] = (n.totals.cpu[kind] ?? 0) + ms - (cpuBefore[kind] ?? 0);
        n.last = n.node.lines.all.slice(from);
        addCollections(n.last, n.totals);
      }
    }
    console.log(`GC per request, ${rounds} interleaved rounds of 3 s at 32 connections; load average ${load.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`);
    for (const { build, totals: t, last } of nodes) {
      const perRequest = (ms: number) => `${((ms * 1_000) / t.requests).toFixed(0)} µs`;
      const perThousand = (n: number) => ((n * 1_000) / t.requests).toFixed(1);
      const kb = (bytes: number) => `${(bytes / t.requests / 1_024).toFixed(2)} KB`;
      const cpu = Object.values(t.cpu).reduce((a, b) => a + b, 0);
      console.log(`  ${build.label}: ${t.requests} requests`);
      console.log(`    per request: allocated ${kb(t.sums.allocated ?? 0)}, survived a scavenge ${kb(t.sums.new_space_survived ?? 0)}, promoted ${kb(t.sums.promoted ?? 0)}`);
      console.log(`    per 1,000 requests: ${perThousand(t.scavenges)} scavenges pausing ${perThousand(t.sums.pause ?? 0)} ms (helper threads ${perThousand(t.sums['background.scavenge.parallel'] ?? 0)} ms beside), ${perThousand(t.markCompacts)} mark-compacts pausing ${perThousand(t.markCompactPause)} ms`);
      console.log(`    CPU per request ${perRequest(cpu)} (${Object.entries(t.cpu).filter(([, ms]) => ms > 0).map(([kind, ms]) => `${kind} ${perRequest(ms)}`).join(', ')}), child processes ${perRequest(t.children)}`);
      if (process.argv.includes('--sequence')) {
        const sequence = last.filter((line) => / gc=/.test(line)).map((line) => {
          if (!/ gc=s /.test(line)) return `[${/ gc=(\w+)/.exec(line)![1]}]`;
          const value = (field: string) => Math.round(Number(new RegExp(` ${field}=(\\d+)`).exec(line)?.[1] ?? 0) / 1_024);
          return `${value('promoted')}/${value('new_space_survived')}`;
        });
        console.log(`    the last round's scavenges, promoted/copied KB: ${sequence.join(' ')}`);
      }
    }
  } finally {
    processes.stopAll();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

await main();
process.exit(0);
