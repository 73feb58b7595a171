/**
 * Three meshgate nodes on this machine, federated over libp2p on 127.0.0.1: only node 1 has a provider. Requests
 * sent to every node are answered, and each answer says who served it.
 *
 *   npx tsx examples/federation/run.ts
 *
 * With OPENAI_API_KEY set, node 1 uses OpenAI (model gpt-4o-mini); without it, node 1 uses the project's mock
 * upstream (test/mock) as a stand-in provider, so the example runs offline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import pino from 'pino';
import { Gateway, parseConfig } from '../../src/index.js';
import { startMockUpstream } from '../../test/mock/index.js';

const real = process.env.OPENAI_API_KEY;
const mock = real ? undefined : await startMockUpstream({ apiKey: 'stand-in-key' });
const provider = real
  ? { id: 'openai', type: 'openai', api_key: real, models: ['gpt-4o-mini'] }
  : { id: 'stand-in', type: 'openai', base_url: mock!.openaiBaseUrl, api_key: 'stand-in-key', models: ['gpt-4o-mini'] };

const dirs: string[] = [];
async function node(name: string, providers: unknown[], bootstrap: string[]): Promise<Gateway> {
  const dir = await mkdtemp(join(tmpdir(), `meshgate-${name}-`));
  dirs.push(dir);
  const config = parseConfig({
    server: { port: 0 },
    storage: { dir },
    providers,
    mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap },
  }, name, process.env);
  const gateway = await Gateway.start(config, { logger: pino({ level: 'warn' }) });
  console.log(`${name}: ${gateway.url}  peer ${gateway.mesh!.peerId}${providers.length ? '  (has the provider)' : ''}`);
  return gateway;
}

const one = await node('node-1', [provider], []);
const two = await node('node-2', [], one.mesh!.multiaddrs());
const three = await node('node-3', [], one.mesh!.multiaddrs());
const names = new Map([[one.mesh!.peerId, 'node-1'], [two.mesh!.peerId, 'node-2'], [three.mesh!.peerId, 'node-3']]);

// Bounded wait for nodes 2 and 3 to learn node 1's models.
for (let i = 0; i < 100 && [two, three].some((g) => !g.mesh!.knownModels().has('gpt-4o-mini')); i++) await new Promise((r) => setTimeout(r, 100));

for (const gateway of [one, two, three]) {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'none' });
  const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello, mesh!' }] }).withResponse();
  const servedBy = response.headers.get('x-meshgate-served-by');
  console.log(`asked ${names.get(gateway.mesh!.peerId)} → served by ${servedBy ? names.get(servedBy) : 'itself'} (${response.headers.get('x-meshgate-provider')}): ${data.choices[0]?.message.content}`);
}

const ledger = await one.ledger!.summary();
for (const peer of ledger) console.log(`node-1 ledger: served ${names.get(peer.peer)} ${peer.served.receipts} request(s), which owes node-1 $${(peer.balanceMicros / 1e6).toFixed(6)} (signed receipts)`);

await Promise.all([three.close(), two.close()]);
await one.close();
await mock?.close();
await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
