/**
 * Where a process's CPU went, from a V8 `.cpuprofile` (`node --cpu-prof`, or `npm run bench -- --only=http --profile`):
 * self time by function and by module (our files under src/, a package under node_modules/, node's internals),
 * as shares of the samples that were not idle.
 *
 *   npx tsx bench/cpu-profile.ts FILE.cpuprofile [--top=30]
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
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
    `busy ${(busy / 1000).toFixed(0)} ms`, '', 'by module (self time):', ...table(byModule), '', 'by function (self time):', ...table(byFunction),
    '', 'our functions, inclusive (self + callees):', ...table(inclusive),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: cpu-profile.ts FILE.cpuprofile [--top=N]');
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 30);
  for (const line of summarise(JSON.parse(await readFile(file, 'utf8')) as Profile, top)) console.log(line);
}
