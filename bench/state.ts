/**
 * Shared-state benchmark: what the Redis backend costs against the embedded LevelDB, in the same run.
 * `npx tsx bench/state.ts [--quick]` (needs redis-server: `apt-get install redis-server`, or MESHGATE_REDIS_SERVER).
 *
 * 1. The quota reservation alone, in this process: `reserve` (request, token, cost and per-IP counters: one LevelDB
 *    read-modify-write per counter, or one Lua script on Redis) and `settle` (its call: the pipeline does not wait on
 *    it), p50/p99 per request, embedded vs Redis —
 *    the difference is the added cost per request of a Redis reservation (a loopback round trip included).
 * 2. The request rate of a whole node (its own process, token auth, every request reserving and settling) against
 *    the mock upstream, embedded vs Redis, in interleaved rounds so both see the same machine.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { Pool } from 'undici';
import { AdminKey, authConfigSchema, createAccessControl, generateGatewayToken, type AccessControl } from '../src/auth/index.js';
import { createState, stateConfigSchema } from '../src/state/index.js';
import { Store } from '../src/store/index.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { locate, missingLine, REDIS_SERVER } from '../test/helpers/system-locate.js';
import { Processes, fmt, percentile } from './processes.js';

const QUICK = process.argv.includes('--quick');

const LIMITS = {
  requests: { limit: 1e12, period: 'day' },
  tokens: { limit: 1e12, period: 'month' },
  cost: { limit: 1e6 },
  ipQuota: { limit: 1e12, period: 'hour' },
} as const;

/** `iterations` reservations of one principal's four counters, each settled; µs per reserve and per settle, sorted. */
async function reservations(ac: AccessControl, token: string, iterations: number): Promise<{ reserve: number[]; settle: number[] }> {
  const principal = await ac.authenticator.authenticate({ headers: { authorization: `Bearer ${token}` }, ip: '81.2.69.160' });
  const reserve: number[] = [];
  const settle: number[] = [];
  const settling: Array<Promise<void>> = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    const held = await ac.quotas.reserve(principal, { requestId: `bench-${i}-${started}`, ip: '81.2.69.160', model: 'gpt-4o-mini', estimatedTokens: 1_200, estimatedCostMicros: 900 });
    const reserved = performance.now();
    // As the pipeline does: nobody waits for a settlement (embedded: its write goes with the next reservation's).
    settling.push(held.settle({ tokens: 800, costMicros: 600 }));
    reserve.push((reserved - started) * 1000);
    settle.push((performance.now() - reserved) * 1000);
  }
  await Promise.all(settling);
  return { reserve: reserve.sort((a, b) => a - b), settle: settle.sort((a, b) => a - b) };
}

async function reservationCost(redisUrl: string, adminKey: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-state-'));
  const stores = await Promise.all(['embedded', 'redis'].map((name) => Store.open(join(dir, name))));
  const state = await createState({
    config: stateConfigSchema.parse({ backend: 'redis', url: redisUrl, key_prefix: 'bench:' }), store: stores[1]!, logger: pino({ level: 'silent' }),
  });
  try {
    const auth = authConfigSchema.parse({ mode: 'token', admin_key: adminKey });
    const embedded = await createAccessControl({ auth, store: stores[0]!, dataDir: join(dir, 'embedded') });
    const shared = await createAccessControl({ auth, store: stores[1]!, dataDir: join(dir, 'redis'), state });
    const token = await generateGatewayToken(adminKey, { jti: `bench-${Date.now()}`, ...LIMITS });
    const iterations = QUICK ? 1_000 : 5_000;
    const runs = { embedded: { reserve: [] as number[], settle: [] as number[] }, redis: { reserve: [] as number[], settle: [] as number[] } };
    await reservations(embedded, token, 500); // warm-up: JIT, LevelDB, the Lua scripts loaded
    await reservations(shared, token, 500);
    for (let round = 0; round < 5; round++) {
      for (const [name, ac] of [['embedded', embedded], ['redis', shared]] as const) {
        const { reserve, settle } = await reservations(ac, token, iterations / 5);
        runs[name].reserve.push(...reserve);
        runs[name].settle.push(...settle);
      }
    }
    for (const run of Object.values(runs)) {
      run.reserve.sort((a, b) => a - b);
      run.settle.sort((a, b) => a - b);
    }
    const line = (name: string, run: { reserve: number[]; settle: number[] }) =>
      `${name}: reserve p50 ${percentile(run.reserve, 50).toFixed(0)} µs, p99 ${percentile(run.reserve, 99).toFixed(0)} µs; settle p50 ${percentile(run.settle, 50).toFixed(0)} µs, p99 ${percentile(run.settle, 99).toFixed(0)} µs`;
    const added = (p: number) => (percentile(runs.redis.reserve, p) - percentile(runs.embedded.reserve, p)).toFixed(0);
    await embedded.close();
    await shared.close();
    return [
      `quota reservation, 4 counters (${iterations} requests each, interleaved):`,
      `  ${line('embedded (LevelDB)', runs.embedded)}`,
      `  ${line('redis (loopback)  ', runs.redis)}`,
      `  added by a Redis reservation: p50 ${added(50)} µs, p99 ${added(99)} µs per request`,
    ];
  } finally {
    await state?.close();
    await Promise.all(stores.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

/** `connections` workers sending `perWorker` requests each; latencies (ms, sorted) and the rate achieved. */
async function load(pool: Pool, token: string, connections: number, perWorker: number): Promise<{ latencies: number[]; seconds: number }> {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'benchmark hello' }] });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    for (let i = 0; i < perWorker; i++) {
      const sent = performance.now();
      const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body });
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${await res.body.text()}`);
      await res.body.dump();
      latencies.push(performance.now() - sent);
    }
  }));
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000 };
}

async function requestRate(redisUrl: string, adminKey: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-state-nodes-'));
  const processes = new Processes();
  try {
    const mockUrl = await processes.mock();
    const node = (name: string, state: string) => processes.node(dir, name, [
      '[server]', 'port = 0', 'max_concurrent = 4096', '[storage]', `dir = "${join(dir, name)}"`,
      '[auth]', 'mode = "token"', `admin_key = "${adminKey}"`, state,
      '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${mockUrl}/v1"`, 'api_key = "test-key"', 'models = ["gpt-4o-mini"]', 'max_concurrent = 4096', '',
    ].join('\n'));
    const nodes = {
      embedded: await node('embedded', ''),
      redis: await node('redis', `[state]\nbackend = "redis"\nurl = "${redisUrl}"\nkey_prefix = "bench-rate:"`),
    };
    const token = await generateGatewayToken(adminKey, { jti: `bench-rate-${Date.now()}`, ...LIMITS });
    const pools = { embedded: new Pool(nodes.embedded.url, { connections: 64 }), redis: new Pool(nodes.redis.url, { connections: 64 }) };
    const connections = 16;
    const perRound = QUICK ? 20 : 60;
    const results = { embedded: { latencies: [] as number[], seconds: 0 }, redis: { latencies: [] as number[], seconds: 0 } };
    for (const name of ['embedded', 'redis'] as const) await load(pools[name], token, 8, 50); // warm-up
    for (let round = 0; round < (QUICK ? 4 : 10); round++) {
      for (const name of ['embedded', 'redis'] as const) {
        const { latencies, seconds } = await load(pools[name], token, connections, perRound);
        results[name].latencies.push(...latencies);
        results[name].seconds += seconds;
      }
    }
    await Promise.all(Object.values(pools).map((p) => p.close()));
    const line = (name: string, run: { latencies: number[]; seconds: number }) => {
      run.latencies.sort((a, b) => a - b);
      return `${name}: ${(run.latencies.length / run.seconds).toFixed(0)} req/s, p50 ${fmt(percentile(run.latencies, 50))} ms, p99 ${fmt(percentile(run.latencies, 99))} ms`;
    };
    const rate = (run: { latencies: number[]; seconds: number }) => run.latencies.length / run.seconds;
    return [
      `node request rate, token auth (every request reserves and settles 4 counters), ${connections} connections, interleaved rounds:`,
      `  ${line('embedded (LevelDB)', results.embedded)}`,
      `  ${line('redis (loopback)  ', results.redis)}`,
      `  redis / embedded: ${((100 * rate(results.redis)) / rate(results.embedded)).toFixed(0)}%`,
    ];
  } finally {
    processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runStateBenchmark(): Promise<string[]> {
  const binary = locate(REDIS_SERVER);
  if (!binary) return [`skipped ${missingLine(REDIS_SERVER, 'shared-state benchmark')}`];
  const redis = await startRedisServer(binary);
  const adminKey = AdminKey.generate().secret.reveal();
  try {
    return [...(await reservationCost(redis.url, adminKey)), ...(await requestRate(redis.url, adminKey))];
  } finally {
    await redis.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`meshgate shared-state benchmark — node ${process.version}`);
  for (const line of await runStateBenchmark()) console.log(`  ${line}`);
}
