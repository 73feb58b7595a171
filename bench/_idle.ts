/**
 * Idle memory harness (scratch): one or more meshgate nodes (mesh on), RSS at start, after a warm-up, after N s idle.
 *   npx tsx bench/_idle.ts [--roots=A,B] [--idle=30] [--snapshot] [--strace]
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { closedLoop } from './load.js';
import { Processes, ROOT, describeBreakdown, residentBreakdown, memoryMb } from './processes.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const roots = (arg('roots') ?? ROOT).split(',');
const idleSeconds = Number(arg('idle') ?? 30);
const SNAP = process.argv.includes('--snapshot');
const GC = process.argv.includes('--gc');
const STRACE = process.argv.includes('--strace');
const MODEL = 'gpt-4o-mini';
const BODY = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'benchmark hello' }] });

const dir = await mkdtemp(join(tmpdir(), 'mg-idle-'));
const processes = new Processes();
try {
  const mock = await processes.mockProcess(0);
  const nodes = [];
  for (const [i, root] of roots.entries()) {
    const node = await processes.node(dir, `n${i}`, [
      '[server]', 'port = 0', 'max_concurrent = 4096', '[storage]', `dir = "${join(dir, `data-${i}`)}"`,
      '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', '',
      '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${mock.url}/v1"`, 'api_key = "test-key"', `models = ["${MODEL}"]`, 'max_concurrent = 4096',
    ].join('\n'), { root, logFile: join(dir, `n${i}.log`), nodeArgs: [...(SNAP ? ['--heapsnapshot-signal=SIGUSR2'] : []), ...(GC ? ['--inspect=127.0.0.1:0'] : [])], env: { ...(process.env.NODE_ENV_EXTRA ? Object.fromEntries(process.env.NODE_ENV_EXTRA.split(',').map((kv) => kv.split('='))) : {}) } });
    const start = await memoryMb(node.pid, 'VmRSS');
    nodes.push({ root, node, start, target: { name: root, url: node.url, path: '/v1/chat/completions', headers: {} } });
  }
  for (const n of nodes) console.log(`${n.root} pid ${n.node.pid}: at start ${n.start.toFixed(1)} MB; ${describeBreakdown(await residentBreakdown(n.node.pid, n.node.url))}`);
  for (const n of nodes) {
    const warm = await closedLoop(n.target, BODY, 8, 1500);
    if (warm.errors) throw new Error(`${warm.errors} errors`);
  }
  for (const n of nodes) console.log(`${n.root}: after warm-up ${describeBreakdown(await residentBreakdown(n.node.pid, n.node.url))}`);
  if (process.argv.includes('--maps')) for (const n of nodes) {
    const { execSync } = await import('node:child_process');
    console.log(execSync(`for t in /proc/${n.node.pid}/task/*; do cat $t/comm; done | sort | uniq -c | tr '\\n' ' '; echo; awk '/^[0-9a-f]+-[0-9a-f]+ /{name=$6; addr=$1} /^Rss:/{ if($2>1024 && name!~/node$/) print $2, addr, name}' /proc/${n.node.pid}/smaps`).toString());
  }
  if (GC) {
    const { readFile } = await import('node:fs/promises');
    for (const [i, n] of nodes.entries()) {
      const ws = new WebSocket([...(await readFile(join(dir, `n${i}.log`), "utf8")).matchAll(/ws:\/\/\S+/g)].at(-1)![0]);
      await new Promise((r) => ws.addEventListener('open', r));
      const done = new Promise((r) => ws.addEventListener('message', r));
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
      await done;
      ws.close();
      console.log(`${n.root}: after a full GC ${describeBreakdown(await residentBreakdown(n.node.pid, n.node.url))}`);
    }
  }
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  for (const n of nodes) console.log(`${n.root}: after ${idleSeconds}s idle ${describeBreakdown(await residentBreakdown(n.node.pid, n.node.url))}`);
  if (STRACE) {
    for (const n of nodes) {
      const s = spawn('strace', ['-f', '-c', '-p', String(n.node.pid), '-o', join(dir, `strace-${n.node.pid}.txt`)], { stdio: 'inherit' });
      setTimeout(() => s.kill('SIGINT'), 10_000);
      await new Promise((r) => s.on('exit', r));
      console.log(`strace summary in ${join(dir, `strace-${n.node.pid}.txt`)}`);
    }
  }
  if (SNAP) {
    for (const n of nodes) process.kill(n.node.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 15_000));
    console.log(`snapshots in cwd of the nodes (${roots.join(', ')})`);
  }
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; dir ${dir}`);
} finally {
  processes.stopAll();
}
