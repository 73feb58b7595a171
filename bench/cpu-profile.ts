/**
 * Where a process's CPU went, from a V8 `.cpuprofile` (`node --cpu-prof`, or `npm run bench -- --only=http --profile`):
 * self time by function and by module (our files under src/, a package under node_modules/, node's internals),
 * as shares of the samples that were not idle. A node runs the start-up bundle (dist/bundle/), so each frame in a
 * script with a source map (the bundle's `.map` beside each file) is first resolved to the source file and line it
 * was built from: src/http/send.ts rather than dist/bundle/chunk-….js.
 *
 *   npx tsx bench/cpu-profile.ts FILE.cpuprofile [--top=30]
 *
 * The samples are wall-clock time of the main thread, not CPU time: a thread preempted while in a system call is
 * sampled in that call. On this project's 2-core VM a write that wakes the peer process often hands it the core
 * there, which is why `writev (native)` shows 13-18% of a node's samples while `perf` puts all kernel time at ~13%.
 */
import { readFile } from 'node:fs/promises';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based, as V8 writes them: where the function starts in its script. */
  lineNumber: number;
  columnNumber?: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a script belongs: `src/http/send.ts`, `pkg fastify`, `node:internal/…`, or `(program)`/`(gc)`. */
function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return `pkg ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = url.indexOf('/dist/') >= 0 ? url.slice(url.indexOf('/dist/') + 1) : url.indexOf('/src/') >= 0 ? url.slice(url.indexOf('/src/') + 1) : url;
  return src.startsWith('node:') ? src.split('/').slice(0, 3).join('/') : src;
}

/** The source map of a `file:` script, from its `//# sourceMappingURL=` comment; null for a script without one. */
export async function sourceMapOf(url: string): Promise<SourceMap | null> {
  if (!url.startsWith('file:')) return null;
  const path = fileURLToPath(url);
  const code = await readFile(path, 'utf8').catch(() => null);
  const reference = code && /\/\/# sourceMappingURL=(\S+)\s*$/.exec(code.slice(-4096))?.[1];
  if (!reference || reference.startsWith('data:')) return null;
  const mapPath = resolve(dirname(path), decodeURIComponent(reference));
  const payload = await readFile(mapPath, 'utf8').then((text) => JSON.parse(text) as SourceMapPayload, () => null);
  if (!payload) return null;
  // Sources are relative to the map (esbuild: `../../src/http/send.ts`), or to its `sourceRoot`.
  const root = resolve(dirname(mapPath), payload.sourceRoot ?? '');
  return new SourceMap({ ...payload, sourceRoot: '', sources: payload.sources.map((source) => (/^[a-z]+:/.test(source) ? source : pathToFileURL(resolve(root, source)).href)) });
}

/**
 * The profile with every frame of a source-mapped script moved to where its function starts in the source: url, line
 * and column of the original file (the function's name stays V8's, which the bundle keeps unminified). Frames
 * without a map, or at a position the map does not cover, are left as they are.
 */
export async function resolveSourceMaps<P extends Profile>(profile: P): Promise<P> {
  const maps = new Map<string, SourceMap | null>();
  for (const url of new Set(profile.nodes.map((node) => node.callFrame.url))) if (url) maps.set(url, await sourceMapOf(url));
  return {
    ...profile,
    nodes: profile.nodes.map((node) => {
      const map = maps.get(node.callFrame.url);
      if (!map) return node;
      const entry = map.findEntry(node.callFrame.lineNumber, node.callFrame.columnNumber ?? 0);
      if (!('originalSource' in entry) || !entry.originalSource) return node;
      return { ...node, callFrame: { ...node.callFrame, url: entry.originalSource, lineNumber: entry.originalLine, columnNumber: entry.originalColumn } };
    }),
  };
}

export function summarise(profile: Profile, top = 30): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id)!;
    if (callFrame.functionName === '(idle)') continue;
    busy += us;
    const where = moduleOf(callFrame.url, callFrame.functionName);
    byModule.set(where, (byModule.get(where) ?? 0) + us);
    const name = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  // Inclusive time of our own functions (src/ or its build dist/): each function counted once per stack, however
  // deep it recurses, so a caller's figure includes everything it called.
  const inclusive = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id)!;
    const { callFrame } = node;
    let total = callFrame.functionName === '(idle)' ? 0 : selfUs.get(id) ?? 0;
    const where = moduleOf(callFrame.url, callFrame.functionName);
    const ours = where.startsWith('dist/') || where.startsWith('src/');
    const name = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
    const counted = ours && !onStack.has(name);
    if (counted) onStack.add(name);
    for (const child of node.children ?? []) total += walk(child, onStack);
    if (counted) {
      onStack.delete(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + total);
    }
    return total;
  };
  walk(profile.nodes[0]!.id, new Set());
  const table = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => `${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
  return [
    `busy ${(busy / 1000).toFixed(0)} ms`,
    // V8 samples the main thread on a wall-clock timer: a thread preempted inside a system call (on a loaded box, by
    // the process its write just woke) keeps being sampled there, so `writev`/`writeBuffer` and other native frames
    // can show far more than the CPU they used. For CPU alone: `perf record -g -p PID` with node's --perf-basic-prof.
    'note: samples are wall-clock time on the main thread; native frames (writev, writeBuffer) include time the thread was preempted in them', '', 'by module (self time):', ...table(byModule), '', 'by function (self time):', ...table(byFunction),
    '', 'our functions, inclusive (self + callees):', ...table(inclusive),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: cpu-profile.ts FILE.cpuprofile [--top=N]');
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 30);
  for (const line of summarise(await resolveSourceMaps(JSON.parse(await readFile(file, 'utf8')) as Profile), top)) console.log(line);
}
