/**
 * Access-control benchmark: what authentication and quota reservation add to each request.
 * `npx tsx bench/access.ts [--quick]`
 *
 * Per request it times `authenticate` (token verification, origin check) + `reserve` (request, token, cost and per-IP
 * counters in LevelDB) — the work done before the upstream call — and, separately, the `settle` after it: its call,
 * since nothing waits for a settlement's write (it goes with the next reservation's).
 * Cases: the same token on every request (a page's embedded token: the signature is checked once, then cached; expiry
 * and revocation are still checked each time), and a new token on every request (an Ed25519 verification each time).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { authConfigSchema, createAccessControl, type AccessControl } from '../src/auth/index.js';
import { Store } from '../src/store/index.js';

const QUICK = process.argv.includes('--quick');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const micros = (ns: bigint) => Number(ns) / 1_000;

const CLAIMS = {
  domains: ['myapp.com', '*.myapp.com'],
  requests: { limit: 1e12, period: 'day' },
  tokens: { limit: 1e12, period: 'month' },
  cost: { limit: 1e6 },
  ipQuota: { limit: 1e12, period: 'hour' },
} as const;

async function measure(ac: AccessControl, tokens: string[], iterations: number): Promise<{ admit: number[]; settle: number[] }> {
  const admit: number[] = [];
  const settle: number[] = [];
  const settling: Array<Promise<void>> = [];
  for (let i = 0; i < iterations; i += 1) {
    const headers = { authorization: `Bearer ${tokens[i % tokens.length]}`, origin: 'https://www.myapp.com' };
    const ip = `81.2.${(i >> 8) & 255}.${i & 255}`;
    const start = process.hrtime.bigint();
    const principal = await ac.authenticator.authenticate({ headers, ip });
    const reservation = await ac.quotas.reserve(principal, { ip, model: 'gpt-4o-mini', estimatedTokens: 1_200, estimatedCostMicros: 900 });
    const admitted = process.hrtime.bigint();
    // As the pipeline does: nobody waits for the settlement's write (it goes with the next reservation's).
    settling.push(reservation.settle({ tokens: 800, costMicros: 600 }));
    const settled = process.hrtime.bigint();
    admit.push(micros(admitted - start));
    settle.push(micros(settled - admitted));
  }
  await Promise.all(settling);
  return { admit: admit.sort((a, b) => a - b), settle: settle.sort((a, b) => a - b) };
}

export async function runAccessBenchmark(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-bench-access-'));
  const store = await Store.open(dir);
  try {
    const ac = await createAccessControl({ auth: authConfigSchema.parse({ mode: 'token' }), store, dataDir: dir });
    const iterations = QUICK ? 2_000 : 20_000;
    const fresh = QUICK ? 500 : 3_000;
    const same = [(await ac.tokens.mint(CLAIMS)).token];
    const unique = await Promise.all(Array.from({ length: fresh + 200 }, async () => (await ac.tokens.mint(CLAIMS)).token));
    await measure(ac, same, 1_000); // warm-up: JIT, LevelDB, geo-free path
    const cached = await measure(ac, same, iterations);
    await measure(ac, unique.slice(fresh), 200);
    const cold = await measure(ac, unique.slice(0, fresh), fresh);
    const line = (name: string, { admit, settle }: { admit: number[]; settle: number[] }) =>
      `${name}: verify+reserve p50 ${percentile(admit, 50).toFixed(1)} µs, p99 ${percentile(admit, 99).toFixed(1)} µs; settle p50 ${percentile(settle, 50).toFixed(1)} µs (${admit.length} requests, 4 quota counters each)`;
    return [line('same token each request (signature cached)', cached), line('new token each request (Ed25519 verify)', cold)];
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`meshgate access-control benchmark — node ${process.version}`);
  for (const line of await runAccessBenchmark()) console.log(`  ${line}`);
}
