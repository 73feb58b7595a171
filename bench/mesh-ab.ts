/**
 * Forwarding, this checkout against another build, A/B in one run: for each build a serving node (with the mock
 * provider) and an asking node (no provider, the mesh to the serving one), all in front of one mock; then interleaved
 * rounds whose order alternates, each measuring the CPU per forwarded request on both nodes (from /proc, after the
 * round's deferred work — acknowledgement batches, usage buckets — is waited out), the CPU of a local request on the
 * serving node, and the added latency of a forward over serving locally (p50, p99) at one connection. Figures from
 * separate runs do not compare on a shared VM; these do, as the machine's drift falls on both builds alike.
 *
 *   git worktree add --detach /tmp/old <commit> && ln -s "$PWD/node_modules" /tmp/old/node_modules
 *   (cd /tmp/old && npx tsc -p tsconfig.build.json && npx tsx scripts/bundle.ts)
 *   npx tsx bench/mesh-ab.ts --baseline=/tmp/old [--quick]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { Processes, buildsToCompare, cpuMs, fmt, percentile, settle } from './processes.js';

const QUICK = process.argv.includes('--quick');
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'benchmark hello' }] });
const ROUNDS = QUICK ? 3 : 6;
const PER_ROUND = QUICK ? 200 : 400;

interface Pair {
  label: string;
  asking: number;
  serving: number;
  local: Pool;
  forwarded: Pool;
  cpuAsking: number[];
  cpuServing: number[];
  cpuLocal: number[];
  localMs: number[];
  forwardedMs: number[];
}

async function once(pool: Pool): Promise<number> {
  const started = performance.now();
  const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: BODY });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  return performance.now() - started;
}

/** CPU per request of `n` requests to `pool` on both nodes, in ms, the deferred work included. */
async function cpuPhase(pair: Pair, pool: Pool, n: number): Promise<[number, number]> {
  const before = [await cpuMs(pair.asking), await cpuMs(pair.serving)];
  for (let i = 0; i < n; i++) await once(pool);
  await settle();
  return [((await cpuMs(pair.asking)) - before[0]!) / n, ((await cpuMs(pair.serving)) - before[1]!) / n];
}

async function main(): Promise<void> {
  const builds = buildsToCompare('mesh-ab.ts');
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-mesh-ab-'));
  const processes = new Processes();
  const loadAtStart = loadavg()[0]!;
  try {
    const mockUrl = await processes.mock();
    const pairs: Pair[] = [];
    for (const [index, { label, root }] of builds.entries()) {
      const serving = await processes.node(dir, `serving-${index}`, [
        '[server]', 'port = 0', '[storage]', `dir = "${join(dir, `serving-${index}`)}"`,
        '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${mockUrl}/v1"`, 'api_key = "test-key"', 'models = ["gpt-4o-mini"]',
        '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', '',
      ].join('\n'), { root });
      const address = (await serving.lines.wait(/^mesh: listening on (\S+)$/))[1]!;
      const asking = await processes.node(dir, `asking-${index}`, [
        '[server]', 'port = 0', '[storage]', `dir = "${join(dir, `asking-${index}`)}"`,
        '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', `bootstrap = ["${address}"]`, '',
      ].join('\n'), { root });
      pairs.push({
        label, asking: asking.pid, serving: serving.pid, local: new Pool(serving.url, { connections: 1 }), forwarded: new Pool(asking.url, { connections: 1 }),
        cpuAsking: [], cpuServing: [], cpuLocal: [], localMs: [], forwardedMs: [],
      });
    }
    for (const pair of pairs) {
      // The asking node learns the serving node's models from its record shortly after connecting (bounded wait).
      for (let i = 0; ; i++) {
        const res = await pair.forwarded.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: BODY });
        await res.body.dump();
        if (res.statusCode === 200) break;
        if (i === 100) throw new Error(`${pair.label}: the asking node never reached the serving node (status ${res.statusCode})`);
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let i = 0; i < 300; i++) await once(pair.local), await once(pair.forwarded); // JIT, connections, peer scores
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const pair of round % 2 === 0 ? pairs : [...pairs].reverse()) {
        for (let i = 0; i < PER_ROUND / 2; i++) {
          pair.localMs.push(await once(pair.local));
          pair.forwardedMs.push(await once(pair.forwarded));
        }
        pair.cpuLocal.push((await cpuPhase(pair, pair.local, PER_ROUND))[1]);
        const [askingMs, servingMs] = await cpuPhase(pair, pair.forwarded, PER_ROUND);
        pair.cpuAsking.push(askingMs);
        pair.cpuServing.push(servingMs);
      }
    }
    const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
    console.log(`mesh A/B: ${ROUNDS} interleaved rounds of ${PER_ROUND} forwards and ${PER_ROUND} local requests at one connection; load average ${loadAtStart.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at the end`);
    for (const pair of pairs) {
      const l = [...pair.localMs].sort((a, b) => a - b);
      const f = [...pair.forwardedMs].sort((a, b) => a - b);
      console.log(`${pair.label}: CPU per forward asking ${fmt(median(pair.cpuAsking))} ms, serving ${fmt(median(pair.cpuServing))} ms (a local request ${fmt(median(pair.cpuLocal))} ms; medians of rounds); ` +
        `forwarded p50 ${fmt(percentile(f, 50))} / p99 ${fmt(percentile(f, 99))} ms vs local ${fmt(percentile(l, 50))} / ${fmt(percentile(l, 99))} ms: added p50 ${fmt(percentile(f, 50) - percentile(l, 50))} ms`);
      await pair.local.close();
      await pair.forwarded.close();
    }
  } finally {
    processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
