/**
 * Mesh benchmarks: added latency of a forwarded request over a warm libp2p connection (vs the serving node answering
 * directly), time to discover a model's providers in a 10-node mesh, and receipts signed and verified per second.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import pino from 'pino';
import { Pool } from 'undici';
import { parseConfig } from '../src/config/index.js';
import { Gateway } from '../src/gateway/gateway.js';
import { Ledger, signingKeyFromRaw, verifyReceipt } from '../src/ledger/index.js';
import { MeshNode, meshConfigSchema } from '../src/mesh/index.js';
import { Store } from '../src/store/index.js';
import { startMockUpstream } from '../test/mock/index.js';

const dirs: string[] = [];
const tempDir = async (name: string) => {
  const dir = await mkdtemp(join(tmpdir(), `meshgate-bench-${name}-`));
  dirs.push(dir);
  return dir;
};
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (n: number) => n.toFixed(3);

async function gateway(name: string, providers: unknown[], bootstrap: string[]): Promise<Gateway> {
  const config = parseConfig({ server: { port: 0 }, storage: { dir: await tempDir(name) }, providers, mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap } }, name, {});
  const g = new Gateway(config, { logger: pino({ level: 'silent' }) });
  await g.start();
  return g;
}

async function forwardedLatency(rounds: number): Promise<string> {
  const mock = await startMockUpstream();
  const serving = await gateway('serving', [{ id: 'mock', type: 'openai', base_url: mock.openaiBaseUrl, api_key: 'test-key', models: ['gpt-4o-mini'] }], []);
  const asking = await gateway('asking', [], serving.mesh!.multiaddrs());
  for (let i = 0; i < 100 && !asking.mesh!.knownModels().has('gpt-4o-mini'); i++) await new Promise((r) => setTimeout(r, 50));
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'benchmark hello' }] });
  const local = new Pool(serving.url, { connections: 1 });
  const forwarded = new Pool(asking.url, { connections: 1 });
  const once = async (pool: Pool) => {
    const started = performance.now();
    const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    return performance.now() - started;
  };
  for (let i = 0; i < 200; i++) await once(local), await once(forwarded); // warm up: JIT, connections, peer scores
  const l: number[] = [];
  const f: number[] = [];
  for (let i = 0; i < rounds; i++) {
    l.push(await once(local));
    f.push(await once(forwarded));
  }
  l.sort((a, b) => a - b);
  f.sort((a, b) => a - b);
  await local.close();
  await forwarded.close();
  await asking.close();
  await serving.close();
  await mock.close();
  return `forwarded vs local, 1 connection: added p50 ${fmt(percentile(f, 50) - percentile(l, 50))} ms, p99 ${fmt(percentile(f, 99) - percentile(l, 99))} ms (local p50 ${fmt(percentile(l, 50))} ms; includes the receipt and its acknowledgement)`;
}

async function discoveryTime(): Promise<string> {
  const nodes: MeshNode[] = [];
  const config = (bootstrap: string[]) => meshConfigSchema.parse({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, dht_timeout_ms: 5_000 });
  // A chain-ish topology: every node bootstraps from the previous one, so the last is several hops from the first.
  for (let i = 0; i < 10; i++) {
    const node = await MeshNode.create({ config: config(i === 0 ? [] : [nodes[i - 1]!.multiaddrs()[0]!]), dataDir: await tempDir(`d${i}`), version: 'bench' });
    if (i === 0) node.setAdvertisement({ models: [{ id: 'rare-model', capabilities: ['chat'] }], capacity: { maxConcurrent: 10, inFlight: 0 } });
    await node.start();
    nodes.push(node);
  }
  const started = performance.now();
  let found = 0;
  for (let attempt = 0; attempt < 50 && found === 0; attempt++) {
    found = (await nodes[9]!.findPeersForModel('rare-model', { signal: AbortSignal.timeout(5_000) })).length;
    if (found === 0) await new Promise((r) => setTimeout(r, 100));
  }
  const ms = performance.now() - started;
  await Promise.all(nodes.map((n) => n.stop()));
  return `discovery in a 10-node mesh (last node looks up a model only the first serves): ${found ? `${ms.toFixed(1)} ms` : 'not found within the bound'}`;
}

async function receiptThroughput(): Promise<string[]> {
  const make = async (name: string) => {
    const key = await generateKeyPair('Ed25519');
    const id = peerIdFromPrivateKey(key).toString();
    const store = await Store.open(await tempDir(name));
    return { id, store, ledger: Ledger.open(store, id, signingKeyFromRaw(key.raw)) };
  };
  const server = await make('rs');
  const client = await make('rc');
  const usage = { input: 1000, output: 200, cached: 0 };
  const price = { input: 2_500_000, output: 10_000_000, cached: 1_250_000 };
  const n = 2_000;
  const jws: string[] = [];
  let started = performance.now();
  for (let i = 0; i < n; i++) jws.push(await server.ledger.issue(client.id, `r${i}`, 'gpt-4o', usage, price));
  const issueRate = n / ((performance.now() - started) / 1000);
  started = performance.now();
  for (const receipt of jws) await verifyReceipt(receipt, server.id);
  const verifyRate = n / ((performance.now() - started) / 1000);
  started = performance.now();
  for (let i = 0; i < n; i++) {
    const result = await client.ledger.accept(jws[i]!, server.id, `r${i}`, { usage, price });
    if (result.accepted) await server.ledger.recordAck(result.ack);
  }
  const roundTrip = (performance.now() - started) / n;
  await server.store.close();
  await client.store.close();
  return [
    `receipts: ${issueRate.toFixed(0)} issued/s (sign + chain + store), ${verifyRate.toFixed(0)} verified/s (signature + schema)`,
    `receipt acceptance (all checks + countersign + store) and acknowledgement recording: ${fmt(roundTrip)} ms per receipt`,
  ];
}

export async function runMeshBenchmark(quick = false): Promise<string[]> {
  try {
    return [await forwardedLatency(quick ? 300 : 1_000), await discoveryTime(), ...(await receiptThroughput())];
  } finally {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) for (const line of await runMeshBenchmark(process.argv.includes('--quick'))) console.log(line);
