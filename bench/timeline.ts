/**
 * The timeline of one request at one connection: `npx tsx bench/timeline.ts [--roots=DIR,DIR] [--variants=A,B]
 * [--requests=N] [--stream]`. The mock, bench/minimal-proxy.ts and one meshgate node per root (this checkout by
 * default; each the build a root holds, mesh on, logging into a file) and variant (`MG_ABLATE=<variant>` in its
 * environment, for the switches of a scratch build), each server with bench/timeline-probe.mjs preloaded; requests go
 * one after the other on one keep-alive connection per server (undici `request`, no SDK), in interleaved rounds after a
 * warm-up. The probe stamps each request's steps on the monotonic clock the client reads too: the client's send,
 * node:http's parsed head, undici's upstream request (created, head written, body sent, answer's head, first chunk,
 * end), every socket write, the client's last byte; `globalThis.__tl?.('name')` calls added to the source for a session
 * (a scratch commit) show up between them. Printed per server: its CPU per request (all its threads, its deferred work
 * waited out after each round) and the mock's meanwhile, the median and p90 of each step of the most common sequence,
 * then how the slowest 1% spent their time (their longest step, and whether a garbage collection overlapped them) and
 * how many requests a collection overlapped at all.
 *
 * Each step's wall time includes whatever else ran then: on a shared machine a write that wakes the peer (the mock, the
 * client) often hands it the core, so a step ending in a write reads long for every server alike. Compare a step
 * between servers measured in the same run, never across runs.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { Processes, ROOT, cpuMs, percentile, servingNodeToml, settle } from './processes.js';
import { PROBE, requestsOf, type ProbeDump } from './timeline-marks.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const REQUESTS = Number(arg('requests') ?? 3000);
const ROUNDS = 4;
const WARM_UP = 300;
const STREAM = process.argv.includes('--stream');
const BODY = JSON.stringify({ model: 'gpt-4o-mini', ...(STREAM ? { stream: true } : {}), messages: [{ role: 'user', content: 'benchmark hello' }] });

interface Server {
  name: string;
  url: string;
  pid: number;
  out: string;
  stop: () => Promise<void>;
  /** Per request: client sent, client saw the last byte (hrtime ns). */
  client: Array<[number, number]>;
  /** CPU ms of the server's process, and of the mock, over the measured rounds (the server's deferred work included). */
  cpu: number;
  mockCpu: number;
  agent: Agent;
}


const hrNow = () => Number(process.hrtime.bigint());
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const us = (ns: number) => (Number.isFinite(ns) ? (ns / 1000).toFixed(0) : '-').padStart(6);
const ms = (ns: number) => (ns / 1e6).toFixed(1);

async function one(server: Server): Promise<void> {
  const sent = hrNow();
  const res = await request(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, dispatcher: server.agent });
  for await (const _chunk of res.body);
  const end = hrNow();
  if (res.statusCode !== 200) throw new Error(`${server.name}: status ${res.statusCode}`);
  server.client.push([sent, end]);
}

function report(server: Server, dump: ProbeDump): void {
  const client = server.client.slice(WARM_UP);
  const perRequest = (cpu: number) => ((cpu * 1000) / client.length).toFixed(0);
  const marks = requestsOf(dump).slice(WARM_UP, WARM_UP + client.length);
  if (marks.length !== client.length) throw new Error(`${server.name}: ${marks.length} requests seen by the probe, ${client.length} sent`);
  const totals = client.map(([sent, end]) => end - sent);
  const all = sorted(totals);
  console.log(`\n${server.name}: ${client.length} requests, client's time p50 ${us(percentile(all, 50))} µs, p90 ${us(percentile(all, 90))}, p99 ${us(percentile(all, 99))}; CPU per request ${perRequest(server.cpu)} µs (the mock's meanwhile ${perRequest(server.mockCpu)} µs)`);

  // Steps: client sent → the probe's marks in order → the last client write before the client's end → client end.
  const stepsOf = (i: number): Array<[string, number]> => {
    const [sent, end] = client[i]!;
    const request = marks[i]!;
    const steps: Array<[string, number]> = [['client sent → request', request[0]![1] - sent]];
    for (let k = 1; k < request.length; k++) steps.push([`${request[k - 1]![0]} → ${request[k]![0]}`, request[k]![1] - request[k - 1]![1]]);
    const lastWrite = request.findLast(([name, at]) => name === 'write.client' && at < end);
    if (lastWrite) steps.push(['last write.client → client end', end - lastWrite[1]]);
    return steps;
  };
  const sequences = new Map<string, number[]>();
  marks.forEach((request, i) => {
    const key = request.map(([name]) => name).join(' ');
    sequences.set(key, [...(sequences.get(key) ?? []), i]);
  });
  const [, common] = [...sequences.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
  const columns = new Map<string, number[]>();
  for (const i of common) for (const [label, ns] of stepsOf(i)) columns.set(label, [...(columns.get(label) ?? []), ns]);
  console.log(`  steps of the most common sequence (${common.length} requests), µs:        p50    p90`);
  // Labels repeat when a step does (two writes in a row): each occurrence is its own row, in order.
  const seen = new Map<string, number>();
  const rows = stepsOf(common[0]!).map(([label]) => {
    const nth = seen.get(label) ?? 0;
    seen.set(label, nth + 1);
    return { label, values: common.map((i) => stepsOf(i).filter(([l]) => l === label)[nth]![1]) };
  });
  for (const { label, values } of rows) {
    const s = sorted(values);
    console.log(`  ${label.padEnd(58)} ${us(percentile(s, 50))} ${us(percentile(s, 90))}`);
  }
  // The work after an answer the next request waited for: the last mark of a request after the client's next send.
  const late: number[] = [];
  for (let i = 0; i + 1 < marks.length; i++) late.push(marks[i]!.at(-1)![1] - client[i + 1]![0]);
  const lateSorted = sorted(late);
  console.log(`  its last mark after the client's next send (its work the next request waited for): p50 ${us(percentile(lateSorted, 50))} µs, p90 ${us(percentile(lateSorted, 90))}`);

  const gcs = dump.gcs.map(([start, duration, kind]) => ({ start: dump.hrOrigin + start * 1e6, duration: duration * 1e6, kind }));
  const overlapping = (i: number) => gcs.filter((gc) => gc.start < client[i]![1] && gc.start + gc.duration > client[i]![0]);
  const withGc: number[] = [];
  const withoutGc: number[] = [];
  totals.forEach((total, i) => (overlapping(i).length ? withGc : withoutGc).push(total));
  console.log(`  a garbage collection overlapped ${withGc.length} requests (${((100 * withGc.length) / totals.length).toFixed(1)}%; p50 ${us(percentile(sorted(withGc), 50))} µs); the others p50 ${us(percentile(sorted(withoutGc), 50))}, p99 ${us(percentile(sorted(withoutGc), 99))} µs`);

  const cut = percentile(all, 99);
  const slow = totals.map((total, i) => [total, i] as const).filter(([total]) => total >= cut);
  const longest = new Map<string, { count: number; ns: number }>();
  let slowWithGc = 0;
  for (const [, i] of slow) {
    const [label, ns] = stepsOf(i).sort((a, b) => b[1] - a[1])[0]!;
    const entry = longest.get(label) ?? { count: 0, ns: 0 };
    entry.count += 1;
    entry.ns += ns;
    longest.set(label, entry);
    if (overlapping(i).length) slowWithGc += 1;
  }
  console.log(`  the slowest 1% (${slow.length}, ≥ ${ms(cut)} ms): a collection overlapped ${slowWithGc}; their longest step:`);
  for (const [label, { count, ns }] of [...longest.entries()].sort((a, b) => b[1].count - a[1].count)) {
    console.log(`    ${String(count).padStart(3)}× ${label} (${ms(ns / count)} ms on average)`);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'meshgate-timeline-'));
const processes = new Processes();
const servers: Server[] = [];
const load = loadavg()[0]!;
try {
  const { url: mock, pid: mockPid } = await processes.mockProcess(0);
  const agent = () => new Agent({ connections: 1, keepAliveTimeout: 30_000, pipelining: 1 });
  const proxyOut = join(dir, 'proxy.json');
  const proxy = await processes.minimalProxy(mock, { nodeArgs: ['--import', PROBE], env: { TIMELINE_OUT: proxyOut } });
  servers.push({ name: 'minimal proxy', ...proxy, out: proxyOut, client: [], cpu: 0, mockCpu: 0, agent: agent() });
  // One node per root and variant: a variant is MG_ABLATE=<variant> in its environment, for a scratch build's switches.
  const roots = (arg('roots') ?? ROOT).split(',');
  const variants = arg('variants')?.split(',') ?? [undefined];
  for (const [i, [root, variant]] of roots.flatMap((r) => variants.map((v) => [r, v] as const)).entries()) {
    const out = join(dir, `node${i}.json`);
    const node = await processes.node(dir, `node${i}`, servingNodeToml(join(dir, `node${i}-data`), mock), {
      logFile: join(dir, `node${i}.log`), nodeArgs: ['--import', PROBE], env: { TIMELINE_OUT: out, ...(variant ? { MG_ABLATE: variant } : {}) }, root,
    });
    servers.push({ name: `meshgate ${root}${variant ? ` (${variant})` : ''}`, url: node.url, pid: node.pid, out, stop: node.stop, client: [], cpu: 0, mockCpu: 0, agent: agent() });
  }
  for (const server of servers) for (let i = 0; i < WARM_UP; i++) await one(server);
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of round % 2 ? [...servers].reverse() : servers) {
      const [cpu, mockCpu] = [await cpuMs(server.pid), await cpuMs(mockPid)];
      for (let i = 0; i < REQUESTS / ROUNDS; i++) await one(server);
      await settle();
      server.cpu += (await cpuMs(server.pid)) - cpu;
      server.mockCpu += (await cpuMs(mockPid)) - mockCpu;
    }
  }
  console.log(`${REQUESTS} ${STREAM ? 'streamed ' : ''}requests per server at one connection, load average ${load.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`);
  for (const server of servers) {
    process.kill(server.pid, 'SIGUSR2');
    for (let waited = 0; !existsSync(server.out) && waited < 10_000; waited += 50) await sleep(50);
    report(server, JSON.parse(await readFile(server.out, 'utf8')) as ProbeDump);
  }
} finally {
  for (const server of servers) await server.stop();
  processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
