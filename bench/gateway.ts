/**
 * Core gateway benchmark: what the gateway adds on top of talking to the upstream directly.
 *
 * The mock upstream and the gateway each run in their own process (as in production); this process is the load
 * generator and uses the same undici client for both paths, interleaving rounds so drift affects both equally.
 * Prints: added latency p50/p99 at 1 and 32 connections, the highest request rate with p99 < 50 ms (gateway vs
 * direct, and bench/minimal-proxy.ts for scale), added time to first token for streams, and the gateway's resident memory idle and under load.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { Processes, fmt, memoryMb, percentile } from './processes.js';

const QUICK = process.argv.includes('--quick');

const chatBody = (stream: boolean) =>
  JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'benchmark hello' }] });

/** One request; returns total ms, or time to the first SSE data line for streams. */
async function once(pool: Pool, path: string, headers: Record<string, string>, stream: boolean): Promise<number> {
  const started = performance.now();
  const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', ...headers }, body: chatBody(stream) });
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${await res.body.text()}`);
  if (!stream) {
    await res.body.dump();
    return performance.now() - started;
  }
  let first = NaN;
  for await (const chunk of res.body) {
    if (Number.isNaN(first) && String(chunk).includes('data:')) first = performance.now() - started;
  }
  return first;
}

interface Target {
  name: string;
  pool: Pool;
  path: string;
  headers: Record<string, string>;
}

/** `connections` workers each sending `perWorker` requests; latencies in ms, sorted. */
async function load(target: Target, connections: number, perWorker: number, stream = false): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let i = 0; i < perWorker; i++) latencies.push(await once(target.pool, target.path, target.headers, stream));
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000 };
}

/** Interleaved rounds: direct, gateway, direct, gateway … so both see the same machine state. */
async function compare(direct: Target, gateway: Target, connections: number, rounds: number, perRound: number, stream = false) {
  const d: number[] = [];
  const g: number[] = [];
  for (let r = 0; r < rounds; r++) {
    d.push(...(await load(direct, connections, perRound, stream)).latencies);
    g.push(...(await load(gateway, connections, perRound, stream)).latencies);
  }
  d.sort((a, b) => a - b);
  g.sort((a, b) => a - b);
  return { direct: { p50: percentile(d, 50), p99: percentile(d, 99) }, gateway: { p50: percentile(g, 50), p99: percentile(g, 99) } };
}

/** Highest request rate whose p99 stays under 50 ms, stepping up concurrency. */
async function maxRate(target: Target): Promise<{ rate: number; connections: number; p99: number }> {
  let best = { rate: 0, connections: 0, p99: 0 };
  for (const connections of [1, 2, 4, 8, 16, 32, 64]) {
    const perWorker = Math.max(20, Math.round((QUICK ? 800 : 3000) / connections));
    const { latencies, seconds } = await load(target, connections, perWorker);
    const p99 = percentile(latencies, 99);
    const rate = latencies.length / seconds;
    // Every level is tried: on a shared VM one stall can push a single level's p99 over the bound.
    if (p99 < 50 && rate > best.rate) best = { rate, connections, p99 };
  }
  return best;
}

export async function runGatewayBenchmark(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-'));
  const processes = new Processes();
  try {
    const mockUrl = await processes.mock();
    const gateway = await processes.node(dir, 'bench', `[server]\nport = 0\nmax_concurrent = 4096\n[storage]\ndir = "${join(dir, 'data')}"\n[[providers]]\nid = "mock"\ntype = "openai"\nbase_url = "${mockUrl}/v1"\napi_key = "test-key"\nmodels = ["gpt-4o-mini"]\nmax_concurrent = 4096\n`);
    const gatewayUrl = gateway.url;

    const direct: Target = { name: 'direct', pool: new Pool(mockUrl, { connections: 128 }), path: '/v1/chat/completions', headers: { authorization: 'Bearer test-key' } };
    const viaGateway: Target = { name: 'gateway', pool: new Pool(gatewayUrl, { connections: 128 }), path: '/v1/chat/completions', headers: {} };

    // Warm up both paths (JIT, keep-alive connections).
    await load(direct, 8, 100);
    await load(viaGateway, 8, 100);
    const idleRss = await memoryMb(gateway.pid, 'VmRSS');

    const rounds = QUICK ? 4 : 10;
    const one = await compare(direct, viaGateway, 1, rounds, QUICK ? 100 : 200);
    const many = await compare(direct, viaGateway, 32, rounds, QUICK ? 10 : 25);
    const ttft = await compare(direct, viaGateway, 1, rounds, QUICK ? 50 : 100, true);
    const proxy: Target = { name: 'minimal proxy', pool: new Pool(await processes.minimalProxy(mockUrl), { connections: 128 }), path: '/v1/chat/completions', headers: {} };
    await load(proxy, 8, 100);
    const directRate = await maxRate(direct);
    const gatewayRate = await maxRate(viaGateway);
    const proxyRate = await maxRate(proxy);
    await proxy.pool.close();
    const loadRss = await memoryMb(gateway.pid, 'VmHWM');

    await direct.pool.close();
    await viaGateway.pool.close();
    return [
      `added latency, 1 connection:   p50 ${fmt(one.gateway.p50 - one.direct.p50)} ms, p99 ${fmt(one.gateway.p99 - one.direct.p99)} ms (direct p50 ${fmt(one.direct.p50)} / p99 ${fmt(one.direct.p99)} ms)`,
      `added latency, 32 connections: p50 ${fmt(many.gateway.p50 - many.direct.p50)} ms, p99 ${fmt(many.gateway.p99 - many.direct.p99)} ms (direct p50 ${fmt(many.direct.p50)} / p99 ${fmt(many.direct.p99)} ms)`,
      `max rate with p99 < 50 ms:     gateway ${gatewayRate.rate.toFixed(0)} req/s (${gatewayRate.connections} conns, p99 ${fmt(gatewayRate.p99)} ms) vs direct ${directRate.rate.toFixed(0)} req/s (${directRate.connections} conns) = ${((100 * gatewayRate.rate) / directRate.rate).toFixed(0)}%`,
      `  for scale, a minimal Node proxy (parse, forward with undici, write back; nothing else): ${proxyRate.rate.toFixed(0)} req/s = ${((100 * proxyRate.rate) / directRate.rate).toFixed(0)}% of direct`,
      `added time to first token:     p50 ${fmt(ttft.gateway.p50 - ttft.direct.p50)} ms, p99 ${fmt(ttft.gateway.p99 - ttft.direct.p99)} ms`,
      `gateway resident memory:       idle ${idleRss.toFixed(0)} MB, peak under load ${loadRss.toFixed(0)} MB`,
    ];
  } finally {
    processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}
