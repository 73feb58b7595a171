/**
 * `server.workers`: the request rate of one node with 1 and with 2 worker processes, in the same run against the same
 * mock upstream (its own process). Each node is a real `meshgate start`; this process is the load generator. Two
 * loads: public requests (no quota: a worker reaches its primary only for the record) and requests with an access
 * token whose quota is reserved and settled per request (with workers, two IPC round trips to the primary each).
 * Rounds alternate between the nodes so drift on a shared machine affects both alike.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { Processes, percentile } from './processes.js';

const QUICK = process.argv.includes('--quick');
const CONNECTIONS = 32;
const ROUND_MS = QUICK ? 2_000 : 5_000;
const ROUNDS = QUICK ? 2 : 4;

const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'benchmark hello' }] });

interface Node {
  workers: number;
  url: string;
  pool: Pool;
  token: string;
  samples: Record<'public' | 'token', { requests: number; seconds: number; latencies: number[] }>;
}

/** CONNECTIONS loops sending back to back for `ms`; adds what they did to `into`. */
async function round(node: Node, kind: 'public' | 'token', ms: number): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(kind === 'token' ? { authorization: `Bearer ${node.token}` } : {}) };
  const into = node.samples[kind];
  const started = performance.now();
  const until = started + ms;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < until) {
      const sent = performance.now();
      const res = await node.pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`workers = ${node.workers}: status ${res.statusCode}`);
      into.latencies.push(performance.now() - sent);
      into.requests++;
    }
  }));
  into.seconds += (performance.now() - started) / 1000;
}

async function mintToken(url: string, adminKey: string): Promise<string> {
  const res = await fetch(`${url}/v1/admin/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({ sub: 'bench', requests: { limit: 100_000_000, period: 'day' } }),
  });
  if (res.status !== 201) throw new Error(`minting a token: ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

export async function runWorkersBenchmark(): Promise<string[]> {
  const processes = new Processes();
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-workers-'));
  const nodes: Node[] = [];
  try {
    const upstream = await processes.mock();
    for (const workers of [1, 2]) {
      const toml = [
        '[server]', 'host = "127.0.0.1"', 'port = 0', `workers = ${workers}`,
        '[auth]', 'mode = ["public", "token"]',
        '[storage]', `dir = "${join(dir, `data-${workers}`)}"`,
        '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${upstream}/v1"`, 'api_key = "test-key"', 'models = ["gpt-4o-mini"]', '',
      ].join('\n');
      const { url, lines } = await processes.node(dir, `workers-${workers}`, toml);
      const adminKey = (await lines.wait(/^admin key generated \(shown once\): (\S+)$/))[1]!;
      nodes.push({
        workers, url, pool: new Pool(url, { connections: CONNECTIONS }), token: await mintToken(url, adminKey),
        samples: { public: { requests: 0, seconds: 0, latencies: [] }, token: { requests: 0, seconds: 0, latencies: [] } },
      });
    }
    // Warm-up (JIT, connections), not counted.
    for (const node of nodes) await round(node, 'public', 1_000);
    for (const node of nodes) node.samples.public = { requests: 0, seconds: 0, latencies: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of ['public', 'token'] as const) for (const node of nodes) await round(node, kind, ROUND_MS);
    }
    const lines: string[] = [`${CONNECTIONS} connections, ${ROUNDS} rounds of ${ROUND_MS / 1000} s per node and load, interleaved`];
    for (const kind of ['public', 'token'] as const) {
      const rates = nodes.map((node) => {
        const s = node.samples[kind];
        s.latencies.sort((a, b) => a - b);
        return { node, rate: s.requests / s.seconds, p50: percentile(s.latencies, 50), p99: percentile(s.latencies, 99) };
      });
      const label = kind === 'public' ? 'public requests (no quota)' : 'token requests (quota reserved + settled each)';
      for (const { node, rate, p50, p99 } of rates) {
        lines.push(`${label}, workers = ${node.workers}: ${rate.toFixed(0)} req/s (p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms)`);
      }
      lines.push(`${label}: 2 workers / 1 = ×${(rates[1]!.rate / rates[0]!.rate).toFixed(2)}`);
    }
    return lines;
  } finally {
    await Promise.all(nodes.map((node) => node.pool.close()));
    processes.stopAll();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) for (const line of await runWorkersBenchmark()) console.log(line);
