/**
 * Allocation per request: one node (mesh on, logging into a file, as deployed) in front of the mock under the
 * 32-connection load, with V8's sampling heap profiler attached in-process (bench/heap-probe.mjs) over a measured
 * window after a warm-up. Prints the bytes allocated per request (the profiler's estimate; objects that later GCs
 * collected included), garbage collections per 1,000 requests by kind with their pause time, and the allocating
 * frames: by the function that allocated and by the innermost `src/` function on its stack (the bundle's frames are
 * resolved through its source maps). The profiler slows the node (more so at small intervals), so the rate and the
 * GC pauses printed are the profiled node's; compare builds within one run.
 *
 *   npx tsx bench/alloc.ts [--root=DIR] [--seconds=6] [--interval=8192] [--survivors | --live] [--top=30] [--keep=FILE]
 *
 * `--root` runs another checkout's build (as bench/ab.ts's --baseline); `--interval=0` counts GCs without the profiler;
 * `--survivors` leaves out what minor GCs collected: what lives past a scavenge (copied, or promoted to the old
 * generation, where it costs major GCs); `--live` leaves out what major GCs collected too: what is still held when the
 * window ends (promoted and not yet collected, or kept); `--keep=FILE` keeps the probe's output (the sampled tree, with every stack).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveSourceMaps, type Profile } from './cpu-profile.js';
import { closedLoop } from './load.js';
import { Processes, servingNodeToml, settle } from './processes.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;

interface HeapNode { callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number }; selfSize: number; children: HeapNode[] }
interface ProbeOutput { collections: Record<string, { count: number; ms: number }>; profile?: { head: HeapNode } }

async function main(): Promise<void> {
  const root = resolve(arg('root', '.'));
  const seconds = Number(arg('seconds', '6'));
  const top = Number(arg('top', '30'));
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-alloc-'));
  const out = join(dir, 'probe.json');
  const processes = new Processes();
  try {
    const mock = await processes.mockProcess(0);
    const node = await processes.node(dir, 'alloc', servingNodeToml(join(dir, 'data'), mock.url), {
      root, logFile: join(dir, 'log'),
      env: {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${fileURLToPath(new URL('./heap-probe.mjs', import.meta.url))}`.trim(),
        HEAP_PROBE_OUT: out, HEAP_PROBE_INTERVAL: arg('interval', '8192'), HEAP_PROBE_SURVIVORS: process.argv.includes('--survivors') || process.argv.includes('--live') ? '1' : '0',
        HEAP_PROBE_LIVE: process.argv.includes('--live') ? '1' : '0',
      },
    });
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'benchmark hello' }] });
    const target = { name: 'meshgate', url: node.url, path: '/v1/chat/completions', headers: {}, pid: node.pid };
    const load = loadavg()[0]!;
    await closedLoop(target, body, 32, 4_000);
    await settle();
    process.kill(node.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 300));
    const result = await closedLoop(target, body, 32, seconds * 1_000);
    process.kill(node.pid, 'SIGUSR2');
    for (let i = 0; i < 200 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300)); // the probe's write completes
    const probe = JSON.parse(await readFile(out, 'utf8')) as ProbeOutput;
    if (arg('keep', '')) await copyFile(out, arg('keep', ''));
    const perThousand = (n: number) => ((n * 1_000) / result.ok).toFixed(2);
    console.log(`${root} (load average ${load.toFixed(1)}): ${result.ok} requests, ${(result.ok / result.seconds).toFixed(0)} req/s profiled`);
    for (const [kind, c] of Object.entries(probe.collections)) console.log(`  ${kind}: ${perThousand(c.count)} per 1,000 requests, ${perThousand(c.ms)} ms of pauses per 1,000 requests`);
    if (probe.profile) for (const line of summarise(await flatten(probe.profile.head), result.ok, top)) console.log(line);
  } finally {
    processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The sampled tree as a flat list (with each node's parent), its frames resolved to src/ through source maps. */
async function flatten(head: HeapNode) {
  const nodes: Array<{ id: number; parent: number; callFrame: HeapNode['callFrame']; selfSize: number }> = [];
  const walk = (node: HeapNode, parent: number) => {
    const id = nodes.length;
    nodes.push({ id, parent, callFrame: node.callFrame, selfSize: node.selfSize });
    for (const child of node.children) walk(child, id);
  };
  walk(head, -1);
  const resolved = await resolveSourceMaps({ nodes: nodes as unknown as Profile['nodes'], samples: [], timeDeltas: [] });
  return resolved.nodes as unknown as typeof nodes;
}

function summarise(nodes: Awaited<ReturnType<typeof flatten>>, requests: number, top: number): string[] {
  const label = (f: HeapNode['callFrame']) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  const bySelf = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let total = 0;
  for (const node of nodes) {
    if (!node.selfSize) continue;
    total += node.selfSize;
    const self = label(node.callFrame);
    bySelf.set(self, (bySelf.get(self) ?? 0) + node.selfSize);
    let up = node.id;
    while (up >= 0 && !/\/src\//.test(nodes[up]!.callFrame.url)) up = nodes[up]!.parent;
    const owner = up >= 0 ? label(nodes[up]!.callFrame) : '(no src/ frame on the stack)';
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + node.selfSize);
  }
  const table = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, bytes]) => `  ${(bytes / requests).toFixed(0).padStart(6)} B  ${name}`);
  return [`  allocated: ${(total / requests / 1024).toFixed(1)} KB per request (sampled)`, '', 'per request, by allocating function:', ...table(bySelf), '', 'per request, by the innermost src/ function on the stack:', ...table(byOwner)];
}

await main();
process.exit(0);
