/**
 * Mesh benchmarks: added latency of a forwarded request over a warm libp2p connection (vs the serving node answering
 * directly; each node in its own process), over 2.0.0 sessions and over 1.0.0 streams in the same run; the idle
 * resident memory of a node with the mesh on; time to discover a model's providers in a 10-node mesh, and receipts signed and verified per second.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Pool } from 'undici';
import { Ledger, MAX_NOTED_PER_CHANNEL, RECEIPT_JOURNAL_DIR, ReceiptJournal, channelId, receiptHash, signDispute, signingKeyFromRaw, verifyReceipt } from '../src/ledger/index.js';
import { MeshNode, meshConfigSchema } from '../src/mesh/index.js';
import { Store } from '../src/store/index.js';
import { IDLE_LATEST_MS } from '../src/gateway/idle-watch.js';
import { Processes, cpuMs, fmt, memoryMb, percentile, residentSplitMb, settle } from './processes.js';

const dirs: string[] = [];
const tempDir = async (name: string) => {
  const dir = await mkdtemp(join(tmpdir(), `meshgate-bench-${name}-`));
  dirs.push(dir);
  return dir;
};

/** What a forwarded-latency run measured: the added latency line, and each node's resident memory once started (not yet idle). */
export interface ForwardedLatency {
  line: string;
  /** p50 of forwarded minus p50 of local, in ms. */
  addedP50: number;
  idleRssMb: { serving: number; asking: number };
  /** The asking node's idle RSS split into anonymous (heap) and file-backed (node binary) pages. */
  askingIdleSplit: { anonymous: number; fileBacked: number };
  /** CPU time the asking node spent per forwarded request, in ms (less sensitive to a busy machine than latency). */
  askingCpuMs: number;
  /** CPU time the serving node spent per forwarded request, and per request it served to a local client, in ms. */
  servingCpuMs: { forwarded: number; local: number };
  /** Where the nodes' CPU profiles were written (with `--profile`). */
  profileDir?: string;
}

const PROFILE = process.argv.includes('--profile');

/**
 * Forwarded vs local over a warm connection, with the serving node, the asking node and the mock upstream each in
 * their own process (as deployed: the two nodes are different machines; here they share the 2 cores). One client
 * alternates a request to the serving node itself and one to the asking node, which forwards it over the mesh —
 * over one 2.0.0 session (`sessions`), or over a 1.0.0 stream per request (both nodes with forward_sessions = false).
 */
export async function forwardedLatency(rounds: number, sessions = true): Promise<ForwardedLatency> {
  const dir = await tempDir(sessions ? 'forward2' : 'forward1');
  const processes = new Processes();
  try {
    const mockUrl = await processes.mock();
    const profileDir = PROFILE ? join(dir, 'profile') : undefined;
    const nodeArgs = (name: string) => (profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`] } : {});
    const serving = await processes.node(dir, 'serving', [
      '[server]', 'port = 0', '[storage]', `dir = "${join(dir, 'serving')}"`,
      '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${mockUrl}/v1"`, 'api_key = "test-key"', 'models = ["gpt-4o-mini"]',
      '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', `forward_sessions = ${sessions}`, '',
    ].join('\n'), nodeArgs('serving'));
    const address = (await serving.lines.wait(/^mesh: listening on (\S+)$/))[1]!;
    const asking = await processes.node(dir, 'asking', [
      '[server]', 'port = 0', '[storage]', `dir = "${join(dir, 'asking')}"`,
      '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', `bootstrap = ["${address}"]`, `forward_sessions = ${sessions}`, '',
    ].join('\n'), nodeArgs('asking'));
    // Started, mesh connected, nothing served yet (the idle reading once they count as idle is `meshIdleMemory`'s).
    const idleRssMb = { serving: await memoryMb(serving.pid, 'VmRSS'), asking: await memoryMb(asking.pid, 'VmRSS') };
    const askingIdleSplit = await residentSplitMb(asking.pid);
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
    // The asking node learns the serving node's models from its record shortly after connecting (bounded wait).
    for (let i = 0; ; i++) {
      const res = await forwarded.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body });
      await res.body.dump();
      if (res.statusCode === 200) break;
      if (i === 100) throw new Error(`the asking node never reached the serving node (status ${res.statusCode})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < 300; i++) await once(local), await once(forwarded); // warm up: JIT, connections, peer scores
    const l: number[] = [];
    const f: number[] = [];
    for (let i = 0; i < rounds; i++) {
      l.push(await once(local));
      f.push(await once(forwarded));
    }
    // CPU per request from /proc (10 ms ticks), in two phases of their own so that the serving node's share of a
    // forward is told apart from what it spends on a local request: local requests only, then forwarded ones only.
    const cpuPhase = async (pool: Pool) => {
      const before = [await cpuMs(asking.pid), await cpuMs(serving.pid)];
      for (let i = 0; i < rounds * 2; i++) await once(pool);
      await settle(); // what the phase deferred (acknowledgement batches, usage buckets) is billed to it
      return [((await cpuMs(asking.pid)) - before[0]!) / (rounds * 2), ((await cpuMs(serving.pid)) - before[1]!) / (rounds * 2)] as const;
    };
    const [, servingLocal] = await cpuPhase(local);
    const [askingCpuMs, servingForwarded] = await cpuPhase(forwarded);
    l.sort((a, b) => a - b);
    f.sort((a, b) => a - b);
    await local.close();
    await forwarded.close();
    if (profileDir) await Promise.all([serving.stop(), asking.stop()]);
    const addedP50 = percentile(f, 50) - percentile(l, 50);
    const protocol = sessions ? '2.0.0, one session per peer' : '1.0.0, a stream per request';
    return {
      addedP50,
      idleRssMb,
      askingIdleSplit,
      askingCpuMs,
      servingCpuMs: { forwarded: servingForwarded, local: servingLocal },
      profileDir,
      line: `forwarded vs local (${protocol}), 1 connection: added p50 ${fmt(addedP50)} ms, p99 ${fmt(percentile(f, 99) - percentile(l, 99))} ms (local p50 ${fmt(percentile(l, 50))} ms, p99 ${fmt(percentile(l, 99))} ms; receipt signed, checked and acknowledged on every request); CPU per forward: asking node ${fmt(askingCpuMs)} ms, serving node ${fmt(servingForwarded)} ms (${fmt(servingLocal)} ms for a local request)${profileDir ? `; CPU profiles in ${profileDir} (summarise with npx tsx bench/cpu-profile.ts FILE)` : ''}`,
    };
  } finally {
    processes.stopAll();
  }
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
    const signing = signingKeyFromRaw(key.raw);
    // As a node opens it: the receipts it issues journaled before their trailer, their LevelDB write batched.
    const journal = await ReceiptJournal.open(join(store.dir, RECEIPT_JOURNAL_DIR));
    return { id, store, signing, ledger: Ledger.open(store, id, signing, { journal }) };
  };
  const server = await make('rs');
  const client = await make('rc');
  const usage = { input: 1000, output: 200, cached: 0 };
  const price = { input: 2_500_000, output: 10_000_000, cached: 1_250_000 };
  const n = 2_000;
  const jws: string[] = [];
  let started = performance.now();
  const issueTimes: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    jws.push(await server.ledger.issue(client.id, `r${i}`, 'gpt-4o', usage, price));
    issueTimes.push(performance.now() - t);
  }
  const issueRate = n / ((performance.now() - started) / 1000);
  issueTimes.sort((a, b) => a - b);
  started = performance.now();
  for (const receipt of jws) await verifyReceipt(receipt, server.id);
  const verifyRate = n / ((performance.now() - started) / 1000);
  started = performance.now();
  for (let i = 0; i < n; i++) {
    const result = await client.ledger.accept(jws[i]!, server.id, `r${i}`, { usage, price });
    if (result.accepted) await server.ledger.recordAck(result.ack);
  }
  const roundTrip = (performance.now() - started) / n;
  // The ledger view with a channel at its cap of noted disputes (one per acknowledged receipt, as a hostile peer would
  // send them): read from the per-channel figures, so its time does not grow with receipts or disputes.
  const ch = channelId(server.id, client.id);
  for (let i = 0; i < MAX_NOTED_PER_CHANNEL; i++) {
    await server.ledger.recordDispute(await signDispute({ v: 1, ch, seq: i + 1, rid: `r${i}`, receipt: receiptHash(jws[i]!), reason: 'bench', iat: i }, client.signing, client.id), client.id);
  }
  started = performance.now();
  for (let i = 0; i < 100; i++) await server.ledger.summary();
  const summaryMs = (performance.now() - started) / 100;
  for (const side of [server, client]) {
    await side.ledger.flushDeferred();
    side.ledger.closeJournal();
    await side.store.close();
  }
  return [
    `receipts: ${issueRate.toFixed(0)} issued/s (sign + chain + journal append, stored with the next batch), ${verifyRate.toFixed(0)} verified/s (signature + schema)`,
    `receipt acceptance (all checks + countersign + store) and acknowledgement recording: ${fmt(roundTrip)} ms per receipt`,
    `ledger view (summary) of a channel with ${n} receipts and ${MAX_NOTED_PER_CHANNEL} noted disputes: ${fmt(summaryMs)} ms`,
    `latency a receipt adds to a forwarded request: the serving node issues it (sign + chain + journal append; its LevelDB write joins the ledger's next batch) before the trailer, p50 ${fmt(percentile(issueTimes, 50))} ms, p99 ${fmt(percentile(issueTimes, 99))} ms; checking and acknowledging it happen after the requester's client has its answer`,
  ];
}

/**
 * The forward protocol alone: two mesh nodes in this process, a handler that answers at once, requests one after the
 * other, 1.0.0 and 2.0.0 interleaved round by round so both see the same machine. No gateway pipeline, no receipts:
 * what the wire protocol and libp2p add to a forward, which is the part 2.0.0 changes.
 */
export async function protocolRoundTrip(rounds: number): Promise<string> {
  const nodes: MeshNode[] = [];
  const pair = async (sessions: boolean) => {
    const config = (bootstrap: string[]) => meshConfigSchema.parse({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, forward_sessions: sessions });
    const server = await MeshNode.create({ config: config([]), dataDir: await tempDir('p-s'), version: 'bench' });
    await server.start();
    const client = await MeshNode.create({ config: config([server.multiaddrs()[0]!]), dataDir: await tempDir('p-c'), version: 'bench' });
    await client.start();
    nodes.push(server, client);
    const answer = new TextEncoder().encode('{"ok":true}');
    server.setForwardHandler(async () => ({ head: { status: 200, headers: {} }, body: (async function* () { yield answer; })(), trailer: () => ({}) }));
    return async () => {
      const started = performance.now();
      const frame = { id: `b${Math.random()}`, format: 'openai' as const, operation: 'chat' as const, model: 'm', stream: false, body: { model: 'm', messages: [] }, hop: 1, visited: [client.peerId], deadline: Date.now() + 10_000 };
      const result = await client.forward(server.peerId, frame, AbortSignal.timeout(10_000));
      for await (const _ of result.body);
      await result.trailer;
      return performance.now() - started;
    };
  };
  try {
    const v1 = await pair(false);
    const v2 = await pair(true);
    for (let i = 0; i < 300; i++) await v1(), await v2();
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < rounds; i++) a.push(await v1()), b.push(await v2());
    a.sort((x, y) => x - y);
    b.sort((x, y) => x - y);
    return `forward protocol alone (two nodes in one process, handler answers at once): 1.0.0 p50 ${fmt(percentile(a, 50))} ms, p99 ${fmt(percentile(a, 99))} ms; 2.0.0 p50 ${fmt(percentile(b, 50))} ms, p99 ${fmt(percentile(b, 99))} ms`;
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/**
 * A serving node (with a provider) and an asking node bootstrapped to it, started, connected and never asked
 * anything, read once both count as idle (IDLE_LATEST_MS after the later start: their first idle spell has collected
 * what start-up left). Nodes of their own, so the collection's warm-up cost stays out of the forwarding figures.
 */
async function meshIdleMemory(): Promise<Pick<ForwardedLatency, 'idleRssMb' | 'askingIdleSplit'>> {
  const dir = await tempDir('idle');
  const processes = new Processes();
  try {
    const mockUrl = await processes.mock();
    const serving = await processes.node(dir, 'serving', [
      '[server]', 'port = 0', '[storage]', `dir = "${join(dir, 'serving')}"`,
      '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${mockUrl}/v1"`, 'api_key = "test-key"', 'models = ["gpt-4o-mini"]',
      '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', '',
    ].join('\n'));
    const address = (await serving.lines.wait(/^mesh: listening on (\S+)$/))[1]!;
    const asking = await processes.node(dir, 'asking', [
      '[server]', 'port = 0', '[storage]', `dir = "${join(dir, 'asking')}"`,
      '[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]', `bootstrap = ["${address}"]`, '',
    ].join('\n'));
    await new Promise((resolve) => setTimeout(resolve, IDLE_LATEST_MS + 2_000));
    return {
      idleRssMb: { serving: await memoryMb(serving.pid, 'VmRSS'), asking: await memoryMb(asking.pid, 'VmRSS') },
      askingIdleSplit: await residentSplitMb(asking.pid),
    };
  } finally {
    processes.stopAll();
  }
}

/** Both protocol versions in one run, the 2 ms target's verdict, and the idle memory of a node with the mesh on. */
async function forwarding(rounds: number): Promise<string[]> {
  const v1 = await forwardedLatency(rounds, false);
  const v2 = await forwardedLatency(rounds, true);
  const verdict = (met: boolean) => (met ? 'met' : 'not met');
  const { idleRssMb, askingIdleSplit } = await meshIdleMemory();
  const idle = Math.max(idleRssMb.serving, idleRssMb.asking);
  return [
    await protocolRoundTrip(rounds),
    v1.line,
    v2.line,
    `target: a forward over a warm connection adds ≤ 2 ms p50 over serving locally — ${verdict(v2.addedP50 <= 2)} (${fmt(v2.addedP50)} ms; 1.0.0 in the same run: ${fmt(v1.addedP50)} ms)`,
    `idle resident memory with the mesh on (started, connected, nothing served, ${(IDLE_LATEST_MS + 2_000) / 1000} s after start): serving node ${idleRssMb.serving.toFixed(0)} MB (with a provider), asking node ${idleRssMb.asking.toFixed(0)} MB (${askingIdleSplit.anonymous.toFixed(0)} MB anonymous — JS heap and malloc — and ${askingIdleSplit.fileBacked.toFixed(0)} MB file-backed, mostly the node binary; at start, in the 2.0.0 run: ${v2.idleRssMb.serving.toFixed(0)} and ${v2.idleRssMb.asking.toFixed(0)} MB); target ≤ 100 MB — ${verdict(idle <= 100)}`,
  ];
}

export async function runMeshBenchmark(quick = false): Promise<string[]> {
  try {
    return [...(await forwarding(quick ? 300 : 1_000)), await discoveryTime(), ...(await receiptThroughput())];
  } finally {
    // With --profile the forwarding runs' directories stay: the profiles are in them.
    if (!PROFILE) await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) for (const line of await runMeshBenchmark(process.argv.includes('--quick'))) console.log(line);
