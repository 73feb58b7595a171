/**
 * Where a streamed chunk's lateness comes from: `npx tsx bench/stream-gaps.ts [--streams=N]`. The mock sends one
 * event every 10 ms; streams go through direct, the minimal proxy and meshgate (compiled build, mesh on, logging into
 * a file) in interleaved rounds, as in `npm run bench`'s gap round. meshgate runs with bench/loop-probe.mjs preloaded:
 * its main thread's event-loop stalls (with the thread's own CPU time in each) and its garbage collections. Every gap
 * more than 1 ms off 10 ms is then put down to what the node was doing while the chunk was late: a collection, its
 * own work (the thread ran for at least half of the lateness) or the machine (the thread was not running: it waited
 * for a core). The probe's 1 ms timer is itself a little work; the verdict, not the absolute figures, is the point.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { oneConnection, streamTimes, type HttpTarget } from './load.js';
import { Processes, ROOT, percentile } from './processes.js';

const STREAMS = Number(process.argv.find((a) => a.startsWith('--streams='))?.slice('--streams='.length) ?? 20);
const WORDS = Array.from({ length: 20 }, (_, i) => `word${i}`).join(' ');
const BODY = JSON.stringify({ model: 'gaps-10ms', messages: [{ role: 'user', content: WORDS }], stream: true, stream_options: { include_usage: true } });

interface Late {
  /** When the late chunk arrived (epoch ms) and how long the gap before it was. */
  at: number;
  gap: number;
  last: boolean;
}

const dir = await mkdtemp(join(tmpdir(), 'meshgate-gaps-'));
const processes = new Processes();
try {
  const load = loadavg()[0]!;
  const mock = await processes.mockProcess(10);
  const probeFile = join(dir, 'probe.json');
  const node = await processes.node(dir, 'gaps', [
    '[server]', 'port = 0', '[storage]', `dir = "${join(dir, 'data')}"`, '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', '',
    `[[providers]]\nid = "gaps"\ntype = "openai"\nbase_url = "${mock.url}/v1"\napi_key = "test-key"\nmodels = ["gaps-10ms"]\n`,
  ].join('\n'), { nodeArgs: ['--import', join(ROOT, 'bench/loop-probe.mjs')], env: { LOOP_PROBE_OUT: probeFile }, logFile: join(dir, 'meshgate.log') });
  const minimal = await processes.minimalProxy({ 'gaps-10ms': mock.url });
  const targets: HttpTarget[] = [
    { name: 'direct', url: mock.url, path: '/v1/chat/completions', headers: { authorization: 'Bearer test-key' } },
    { name: 'minimal proxy', url: minimal.url, path: '/v1/chat/completions', headers: {} },
    { name: 'meshgate', url: node.url, path: '/v1/chat/completions', headers: {} },
  ];
  for (const target of targets) await streamTimes(target, BODY, oneConnection());
  const gaps = new Map(targets.map((t) => [t.name, [] as number[]]));
  const late: Late[] = [];
  for (let i = 0; i < STREAMS; i++) {
    for (const target of targets) {
      const started = performance.timeOrigin + performance.now();
      const times = await streamTimes(target, BODY, oneConnection());
      gaps.get(target.name)!.push(...times.gaps);
      if (target.name !== 'meshgate') continue;
      let at = started + times.ttft;
      times.gaps.forEach((gap, k) => {
        at += gap;
        if (Math.abs(gap - 10) > 1) late.push({ at, gap, last: k === times.gaps.length - 1 });
      });
    }
  }
  await node.stop();
  const probe = JSON.parse(await readFile(probeFile, 'utf8')) as { stalls: Array<[number, number, number]>; collections: Array<[number, number]> };

  console.log(`stream gaps: ${STREAMS} streams per target, mock one event every 10 ms, load average ${load.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`);
  for (const [name, list] of gaps) {
    const sorted = [...list].sort((a, b) => a - b);
    const off = sorted.map((g) => Math.abs(g - 10)).sort((a, b) => a - b);
    console.log(`  ${name.padEnd(13)} p50 ${percentile(sorted, 50).toFixed(2)} ms; |gap − 10 ms| p90 ${percentile(off, 90).toFixed(2)} / p99 ${percentile(off, 99).toFixed(2)} ms (${list.length} gaps)`);
  }
  const from = late[0]?.at ?? 0;
  const window = (start: number, end: number) => ({
    stalls: probe.stalls.filter(([at, ms]) => at + ms > start && at < end),
    collections: probe.collections.filter(([at, ms]) => at + ms > start && at < end),
  });
  let collected = 0;
  let own = 0;
  let machine = 0;
  for (const chunk of late) {
    const seen = window(chunk.at - chunk.gap - 1, chunk.at);
    const lateness = Math.abs(chunk.gap - 10);
    if (seen.collections.length > 0) collected++;
    else if (seen.stalls.reduce((sum, [, , cpu]) => sum + cpu, 0) >= lateness / 2) own++;
    else machine++;
  }
  const during = window(from - 1000, late.at(-1)?.at ?? from);
  const stallMs = during.stalls.reduce((sum, [, ms]) => sum + ms, 0);
  const stallCpu = during.stalls.reduce((sum, [, , cpu]) => sum + cpu, 0);
  const pauses = during.collections.map(([, ms]) => ms).sort((a, b) => a - b);
  console.log(`  meshgate's ${late.length} gaps more than 1 ms off (${late.filter((l) => l.last).length} of them a stream's last): a collection ${collected}, the node's own work ${own}, the machine ${machine}`);
  console.log(`  meshgate's main thread while they streamed: ${during.stalls.length} stalls over 2 ms, ${stallMs.toFixed(0)} ms in all, in which it ran ${stallCpu.toFixed(0)} ms; ${pauses.length} collections, longest ${(pauses.at(-1) ?? 0).toFixed(2)} ms`);
} finally {
  processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
