/**
 * How V8 runs the request path, from its own log: a node (mesh on, logging into a file, as deployed) started with
 * `--log-ic --log-deopt --log-code` into a V8 log file, under the 32-connection load — a warm-up, then a window of
 * fixed length. Prints, resolved through the bundle's source maps to `src/` file and line:
 * - the inline-cache sites of our own code (src/ of this checkout) whose last state is megamorphic (N: a hash look-up
 *   in V8's stub cache on every access) or polymorphic (P: 2–4 shapes compared in turn), with the property names
 *   they saw, and how many sites of all code (node's, libraries') end each way;
 * - IC events in the window per request: after the warm-up each is a miss that went to V8's runtime;
 * - deoptimisations (reason, site) over the whole run and in the window, and the optimised compiles (Maglev `+`,
 *   TurboFan `*`) in the window — what the compiler threads still do that late.
 * A megamorphic site is found here; what its hits cost shows in `perf` (bench/perf-cpu.ts: `*IC_Megamorphic`
 * builtins). The logging slows the node several times, so this counts and never times.
 *
 *   npx tsx bench/ic-sites.ts [--root=DIR] [--warm=8] [--seconds=4] [--top=30]
 */
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { SourceMap } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceMapOf } from './cpu-profile.js';
import { closedLoop } from './load.js';
import { Processes, ROOT, servingNodeToml, settle } from './processes.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const root = resolve(arg('root', ROOT));
const TOP = Number(arg('top', '30'));
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'benchmark hello' }] });

interface Code { address: number; size: number; script: string }
interface IcEvent { offset: number; type: string; pc: number; line: number; column: number; to: string; key: string }

/** Runs the node and the load; the V8 log's text and the byte range of the window in it. */
async function record(dir: string): Promise<{ log: string; window: [number, number]; requests: number; load: string }> {
  const logfile = join(dir, 'v8.log');
  const processes = new Processes();
  try {
    const mock = await processes.mockProcess(0);
    const nodeArgs = ['--log-ic', '--log-deopt', '--log-code', `--logfile=${logfile}`, '--no-logfile-per-isolate'];
    const node = await processes.node(dir, 'ic', servingNodeToml(join(dir, 'data'), mock.url), { root, logFile: join(dir, 'ic.log'), nodeArgs });
    const target = { name: 'meshgate', url: node.url, path: '/v1/chat/completions', headers: {} };
    const before = loadavg()[0]!;
    await closedLoop(target, BODY, 32, Number(arg('warm', '8')) * 1_000);
    await settle();
    const start = statSync(logfile).size;
    const result = await closedLoop(target, BODY, 32, Number(arg('seconds', '4')) * 1_000);
    await settle();
    const end = statSync(logfile).size;
    await node.stop();
    return { log: readFileSync(logfile, 'latin1'), window: [start, end], requests: result.ok, load: `${before.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}` };
  } finally {
    processes.stopAll();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-ic-'));
  try {
    const { log, window, requests, load } = await record(dir);
    const inWindow = (offset: number) => offset >= window[0] && offset < window[1];
    const codes: Code[] = [];
    const events: IcEvent[] = [];
    const deopts: Array<{ offset: number; what: string }> = [];
    const compiles: Array<{ tier: string; name: string }> = [];
    let offset = 0;
    for (const line of log.split('\n')) {
      const at = offset;
      offset += line.length + 1;
      const f = line.split(',');
      if (f[0] === 'code-creation' && f[1] === 'JS') {
        // code-creation,JS,kind,time,address,size,"name script:line:column",sfi,tier
        const name = f.slice(6, -2).join(',');
        const tier = f.at(-1)!;
        codes.push({ address: parseInt(f[4]!, 16), size: Number(f[5]), script: /\s(\S+):\d+:\d+$/.exec(name)?.[1] ?? '' });
        if (inWindow(at) && /^[*+]/.test(tier)) compiles.push({ tier: tier[0]!, name });
      } else if (/IC$/.test(f[0]!) && f.length >= 10) {
        // LoadIC,pc,time,line,column,old state,new state,map,key,modifier,slow reason
        events.push({ offset: at, type: f[0]!, pc: parseInt(f[1]!, 16), line: Number(f[3]), column: Number(f[4]), to: f[6]!, key: f[8]! });
      } else if (f[0] === 'code-deopt') {
        // code-deopt,time,size,code,inlining id,script offset,bailout type,"<position> inlined at …",reason
        deopts.push({ offset: at, what: `${f[6]}: ${f.slice(8).join(',')} at ${f[7]}` });
      }
    }
    codes.sort((a, b) => a.address - b.address);
    const codeAt = (pc: number): Code | undefined => {
      let lo = 0;
      let hi = codes.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (codes[mid]!.address <= pc) lo = mid;
        else hi = mid - 1;
      }
      const code = codes[lo];
      return code && pc >= code.address && pc < code.address + Math.max(code.size, 1) ? code : undefined;
    };
    const maps = new Map<string, SourceMap | null>();
    for (const script of new Set(codes.map((c) => c.script))) if (script.startsWith('file:')) maps.set(script, await sourceMapOf(script));
    const ours = join(root, 'src') + '/';
    const place = (script: string, line: number, column: number): string => {
      // The log's positions are 1-based; the map's 0-based.
      const entry = maps.get(script)?.findEntry(line - 1, column - 1);
      if (!entry || !('originalSource' in entry) || !entry.originalSource) return `${script.replace(/^.*\/node_modules\//, '')}:${line}`;
      const source = fileURLToPath(entry.originalSource);
      return `${source.startsWith(ours) ? `src/${source.slice(ours.length)}` : source.replace(/^.*\/node_modules\//, '')}:${entry.originalLine + 1}`;
    };
    const placeText = (text: string) => text.replace(/<(file:[^>]+):(\d+):(\d+)>/g, (_, script: string, line: string, column: string) => `<${place(script, Number(line), Number(column))}>`);

    const last = new Map<string, { state: string; keys: Set<string>; ours: boolean }>();
    let windowEvents = 0;
    for (const e of events) {
      const code = codeAt(e.pc);
      const site = `${code ? place(code.script, e.line, e.column) : '?'} ${e.type}`;
      const entry = last.get(site) ?? { state: e.to, keys: new Set<string>(), ours: site.startsWith('src/') };
      entry.state = e.to;
      entry.keys.add(e.key);
      last.set(site, entry);
      if (inWindow(e.offset)) windowEvents++;
    }
    const ending = (state: string, onlyOurs: boolean) => [...last].filter(([, s]) => s.state === state && (!onlyOurs || s.ours));
    console.log(`V8's IC log of a node (${root}) under 32 connections; load average ${load}; window: ${requests} requests`);
    console.log(`  IC events in the window (misses to V8's runtime): ${(windowEvents / requests).toFixed(3)} per request`);
    console.log(`  sites ending megamorphic: ${ending('N', false).length} in all, ${ending('N', true).length} in src/; polymorphic: ${ending('P', false).length} in all, ${ending('P', true).length} in src/`);
    for (const [state, title] of [['N', 'megamorphic'], ['P', 'polymorphic']] as const) {
      console.log(`\nour ${title} sites (the names they saw):`);
      for (const [site, s] of ending(state, true).sort(([a], [b]) => a.localeCompare(b))) console.log(`  ${site}  ${[...s.keys].slice(0, 6).join(' ')}`);
    }
    const counted = (items: string[]) => [...items.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1]).slice(0, TOP);
    const windowDeopts = deopts.filter((d) => inWindow(d.offset));
    console.log(`\ndeoptimisations: ${deopts.length} in the run, ${windowDeopts.length} in the window`);
    for (const [what, n] of counted(windowDeopts.map((d) => placeText(d.what)))) console.log(`  ${String(n).padStart(4)}  ${what}`);
    console.log(`\noptimised compiles in the window: ${compiles.filter((c) => c.tier === '+').length} Maglev, ${compiles.filter((c) => c.tier === '*').length} TurboFan`);
    for (const [name, n] of counted(compiles.map((c) => `${c.tier} ${placeText(`<${c.name.split(' ').at(-1)}>`)} ${c.name.split(' ')[0]}`))) console.log(`  ${String(n).padStart(4)}  ${name}`);
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

await main();
process.exit(0);
