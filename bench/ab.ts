/**
 * This checkout against another build of meshgate, A/B in one run: each node (its own process, the mesh on, logging
 * at its default level into a file) in front of the same mock, warmed up, then measured in interleaved rounds whose
 * order alternates — CPU per request and rate over a 32-connection closed loop, and added latency at one connection
 * (p50 against the mock answered directly, measured in the same round, and the absolute p99 over all rounds) and added
 * time to first token of a stream (the same; the CPU includes the work each node defers past its answers, waited out
 * after each round). What a change gained, measured where the
 * machine's drift falls on both alike; figures from separate runs of `npm run bench` do not compare on a shared VM.
 *
 *   git worktree add --detach /tmp/old <commit> && ln -s "$PWD/node_modules" /tmp/old/node_modules
 *   (cd /tmp/old && npx tsc -p tsconfig.build.json)     # the baseline's compiled build
 *   npx tsx bench/ab.ts --baseline=/tmp/old [--quick]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoop, oneConnection, sequential, streamTimes, type HttpTarget } from './load.js';
import { IDLE_LATEST_MS } from '../src/gateway/idle-watch.js';
import { Processes, buildsToCompare, cpuMs, memoryMb, percentile, servingNodeToml, settle } from './processes.js';

const QUICK = process.argv.includes('--quick');
const MODEL = 'gpt-4o-mini';
const BODY = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'benchmark hello' }] });
const STREAMED = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'benchmark hello' }] });

interface Variant {
  label: string;
  target: HttpTarget;
  pid: number;
  cpu: number;
  ok: number;
  errors: number;
  seconds: number;
  added: number[];
  /** Every 1-connection request's time, for the p99. */
  times: number[];
  ttftAdded: number[];
  idle: number;
}

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
const p99 = (values: number[]) => percentile([...values].sort((a, b) => a - b), 99);

/** `count` streamed requests one after the other on `agent`: each one's time to its first event. */
async function firstTokens(target: HttpTarget, count: number, agent: ReturnType<typeof oneConnection>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push((await streamTimes(target, STREAMED, agent)).ttft);
  return times;
}

async function main(): Promise<void> {
  const builds = buildsToCompare('ab.ts');
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-ab-'));
  const processes = new Processes();
  const loadAtStart = loadavg()[0]!;
  try {
    const mock = await processes.mockProcess(0);
    const direct: HttpTarget = { name: 'direct', url: mock.url, path: '/v1/chat/completions', headers: { authorization: 'Bearer test-key' } };
    const variants: Variant[] = [];
    for (const [index, { label, root }] of builds.entries()) {
      const node = await processes.node(dir, `ab-${index}`, servingNodeToml(join(dir, `data-${index}`), mock.url, MODEL), { root, logFile: join(dir, `ab-${index}.log`) });
      variants.push({ label, target: { name: label, url: node.url, path: '/v1/chat/completions', headers: {} }, pid: node.pid, cpu: 0, ok: 0, errors: 0, seconds: 0, added: [], times: [], ttftAdded: [], idle: 0 });
    }
    for (const variant of variants) {
      const warm = await closedLoop(variant.target, BODY, 8, QUICK ? 1000 : 3000);
      if (warm.errors > 0 || warm.ok === 0) throw new Error(`${variant.label}: ${warm.errors} of ${warm.ok + warm.errors} warm-up requests failed`);
    }
    // Read once the node idles (IDLE_AFTER_MS without a request, counted within IDLE_LATEST_MS), not just after the warm-up.
    await new Promise((resolve) => setTimeout(resolve, IDLE_LATEST_MS + 2_000));
    for (const variant of variants) variant.idle = await memoryMb(variant.pid, 'VmRSS');
    const rounds = QUICK ? 4 : 10;
    for (let round = 0; round < rounds; round++) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        const before = await cpuMs(variant.pid);
        const started = performance.now();
        const result = await closedLoop(variant.target, BODY, 32, QUICK ? 1500 : 3000);
        variant.seconds += (performance.now() - started) / 1000;
        await settle();
        variant.cpu += (await cpuMs(variant.pid)) - before;
        variant.ok += result.ok;
        variant.errors += result.errors;
        const agent = oneConnection();
        try {
          const directTimes = await sequential(direct, BODY, QUICK ? 100 : 200, agent);
          const agentNode = oneConnection();
          const nodeTimes = await sequential(variant.target, BODY, QUICK ? 100 : 200, agentNode);
          const directTtft = await firstTokens(direct, QUICK ? 50 : 100, agent);
          const nodeTtft = await firstTokens(variant.target, QUICK ? 50 : 100, agentNode);
          await agentNode.close();
          variant.added.push(median(nodeTimes) - median(directTimes));
          variant.times.push(...nodeTimes);
          variant.ttftAdded.push(median(nodeTtft) - median(directTtft));
        } finally {
          await agent.close();
        }
      }
    }
    const lines = [`meshgate A/B, one node each (mesh on, logging into a file), same mock, ${rounds} interleaved rounds; load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`];
    for (const v of variants) {
      const cpuPerRequest = (v.cpu * 1000) / Math.max(1, v.ok);
      lines.push(`  ${v.label}: CPU ${cpuPerRequest.toFixed(0)} µs per request, ${(v.ok / v.seconds).toFixed(0)} req/s at 32 connections${v.errors ? ` (${v.errors} errors)` : ''}, added p50 at 1 connection ${median(v.added).toFixed(2)} ms (median of the rounds; p99 ${p99(v.times).toFixed(2)} ms), added time to first token ${median(v.ttftAdded).toFixed(2)} ms, idle RSS ${(IDLE_LATEST_MS + 2_000) / 1000} s after the warm-up ${v.idle.toFixed(0)} MB`);
    }
    const perRequest = (v: Variant) => (v.cpu * 1000) / Math.max(1, v.ok);
    const old = perRequest(variants.find((v) => v.label.startsWith('baseline'))!);
    const now = perRequest(variants.find((v) => v.label.startsWith('this checkout'))!);
    lines.push(`  this checkout uses ${((now / old) * 100).toFixed(0)}% of the baseline's CPU per request`);
    console.log(lines.join('\n'));
  } finally {
    processes.stopAll();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

await main();
