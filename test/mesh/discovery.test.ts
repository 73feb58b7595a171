import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeshNode } from '../../src/mesh/index.js';
import { recordFrom, TestMesh } from './mesh-nodes.js';

const model = (id: string) => ({ id, capabilities: ['chat'], contextLength: 8192, price: { inputPerMTok: 1, outputPerMTok: 2 } });
const capacity = { maxConcurrent: 8, inFlight: 0 };

describe('mesh discovery over the private DHT', () => {
  const mesh = new TestMesh();
  let hub: MeshNode;

  beforeAll(async () => {
    hub = await mesh.node();
  });
  afterAll(() => mesh.stopAll());

  it('finds a peer serving a model through the DHT when the peers are not connected to each other', async () => {
    const bootstrap = hub.multiaddrs();
    const server = await mesh.node({ bootstrap });
    server.setAdvertisement({ models: [model('dht-model')], capacity });
    await server.republish();
    const client = await mesh.node({ bootstrap });
    const found = await client.findPeersForModel('dht-model', { signal: AbortSignal.timeout(10_000) });
    expect(found.map((p) => p.peerId)).toEqual([server.peerId]);
    expect(found[0].record.models[0]).toMatchObject({ id: 'dht-model', contextLength: 8192 });
    expect(found[0].record.capacity).toEqual(capacity);
    expect(await client.findPeersForModel('no-such-model', { signal: AbortSignal.timeout(5_000) })).toEqual([]);
  });
});

describe('mesh records over a node\'s life', () => {
  const mesh = new TestMesh();
  afterAll(() => mesh.stopAll());

  it('keeps its peer id across restarts (the key is persisted in the data directory)', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = await mkdtemp(join(tmpdir(), 'meshgate-key-'));
    try {
      const first = await mesh.node({}, { dataDir });
      const id = first.peerId;
      await first.stop();
      const second = await mesh.node({}, { dataDir });
      expect(second.peerId).toBe(id);
      await second.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('pushes model changes to connected peers, republishes on large capacity changes only, and withdraws on stop', async () => {
    const watcher = await mesh.node();
    const server = await mesh.node({ bootstrap: watcher.multiaddrs() });
    const seen = recordFrom(watcher, server.peerId, (r) => r.models.some((m) => m.id === 'pushed-model'));
    server.setAdvertisement({ models: [model('pushed-model')], capacity });
    await seen;
    expect((await watcher.findPeersForModel('pushed-model')).map((p) => p.peerId)).toEqual([server.peerId]);

    const seqAfterModels = server.status().record?.seq;
    server.setAdvertisement({ models: [model('pushed-model')], capacity: { maxConcurrent: 8, inFlight: 1 } });
    expect(server.status().record?.seq).toBe(seqAfterModels);
    const busy = recordFrom(watcher, server.peerId, (r) => r.capacity.inFlight === 6);
    server.setAdvertisement({ models: [model('pushed-model')], capacity: { maxConcurrent: 8, inFlight: 6 } });
    await busy;
    expect(server.status().record?.seq).toBeGreaterThan(seqAfterModels!);

    const withdrawn = recordFrom(watcher, server.peerId, (r) => r.withdrawn === true);
    await server.stop();
    await withdrawn;
    expect(await watcher.findPeersForModel('pushed-model', { signal: AbortSignal.timeout(3_000) })).toEqual([]);
    expect(watcher.status().peers.map((p) => p.peerId)).not.toContain(server.peerId);
  });

  it('publishes an advertisement set before start, and refreshes the record before it expires', async () => {
    const watcher = await mesh.node();
    const server = await mesh.node(
      { record_ttl_seconds: 10, refresh_before_seconds: 9, bootstrap: watcher.multiaddrs() },
      { beforeStart: (node) => node.setAdvertisement({ models: [model('early-model')], capacity }) },
    );
    const first = server.status().record!;
    expect(first.models).toBe(1);
    // Republished 9 s before its 10 s expiry: the watcher receives a newer record with the same content.
    const refreshed = await recordFrom(watcher, server.peerId, (r) => r.seq > first.seq);
    expect(refreshed.models.map((m) => m.id)).toEqual(['early-model']);
    expect(refreshed.expiresAt).toBeGreaterThan(first.expiresAt);
  });

  it('forgets a record once it expires, so a node that vanished without withdrawing drops out', async () => {
    let skew = 0;
    const observer = await mesh.node({ record_ttl_seconds: 60, refresh_before_seconds: 10 }, { clock: () => Date.now() + skew });
    const server = await mesh.node({ record_ttl_seconds: 60, refresh_before_seconds: 10, bootstrap: observer.multiaddrs() });
    const seen = recordFrom(observer, server.peerId, (r) => r.models.length === 1);
    server.setAdvertisement({ models: [model('short-lived')], capacity });
    await seen;
    expect((await observer.findPeersForModel('short-lived')).map((p) => p.peerId)).toEqual([server.peerId]);
    skew = 61_000; // the observer's clock passes the record's expiry: the cache and the DHT validator both drop it
    expect(await observer.findPeersForModel('short-lived', { signal: AbortSignal.timeout(3_000) })).toEqual([]);
    expect(observer.knownModels().has('short-lived')).toBe(false);
  });
});

describe('GET /v1/mesh', () => {
  const mesh = new TestMesh();
  afterAll(() => mesh.stopAll());

  it('shows this node and its peers with models, capacity, score and state', async () => {
    const Fastify = (await import('fastify')).default;
    const { meshRoutes } = await import('../../src/mesh/index.js');
    const self = await mesh.node();
    const peer = await mesh.node({ bootstrap: self.multiaddrs() });
    const seen = recordFrom(self, peer.peerId, (r) => r.models.length === 1);
    peer.setAdvertisement({ models: [model('listed-model')], capacity: { maxConcurrent: 3, inFlight: 1 } });
    await seen;
    const app = Fastify();
    await app.register(meshRoutes(self));
    const response = await app.inject({ method: 'GET', url: '/v1/mesh' });
    await app.close();
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ peerId: self.peerId, forward: 'on_failure', maxHops: 1, connections: 1 });
    expect(body.addresses[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//);
    expect(body.peers).toEqual([
      expect.objectContaining({ peerId: peer.peerId, state: 'connected', models: [model('listed-model')], capacity: { maxConcurrent: 3, inFlight: 1 }, score: expect.any(Number) }),
    ]);
  });
});

describe('forged records in the DHT', () => {
  const mesh = new TestMesh();
  afterAll(() => mesh.stopAll());

  it('a record for another peer signed by the wrong key is rejected by DHT servers and by the reader', async () => {
    const { generateKeyPair } = await import('@libp2p/crypto/keys');
    const { createMeshLibp2p } = await import('../../src/mesh/libp2p-node.js');
    const { recordKey } = await import('../../src/mesh/dht-keys.js');
    const { signRecord } = await import('../../src/mesh/node-record.js');
    const hub = await mesh.node();
    const alice = await mesh.node({ bootstrap: hub.multiaddrs() });
    alice.setAdvertisement({ models: [model('honest-model')], capacity });
    await alice.republish();

    // Mallory speaks the same DHT and tries to replace alice's record with one that has a higher seq.
    const malloryKey = await generateKeyPair('Ed25519');
    const mallory = await createMeshLibp2p({ privateKey: malloryKey, listen: ['/ip4/127.0.0.1/tcp/0'], isAllowed: () => true, clock: Date.now });
    await mallory.start();
    try {
      const { multiaddr } = await import('@multiformats/multiaddr');
      const table = mallory.services.dht.routingTable as unknown as EventTarget & { size: number };
      const joined = new Promise((resolve) => table.addEventListener('peer:add', resolve, { once: true }));
      await mallory.dial(multiaddr(hub.multiaddrs()[0]), { signal: AbortSignal.timeout(5_000) });
      if (table.size === 0) await joined;
      const now = Date.now();
      const forged = await signRecord({
        v: 1, peerId: alice.peerId, addrs: mallory.getMultiaddrs().map(String), models: [model('honest-model'), model('evil-model')],
        capacity, version: 'evil', seq: Number.MAX_SAFE_INTEGER, issuedAt: now, expiresAt: now + 60_000,
      }, malloryKey);
      // kad-dht reports each DHT server that refused the PUT (its validator threw) as a query error.
      let refusals = 0;
      for await (const event of mallory.services.dht.put(recordKey(alice.peerId), forged, { signal: AbortSignal.timeout(5_000) })) {
        if (event.name === 'QUERY_ERROR') refusals++;
      }
      expect(refusals).toBeGreaterThan(0);
    } finally {
      await mallory.stop();
    }

    const client = await mesh.node({ bootstrap: hub.multiaddrs() });
    const found = await client.findPeersForModel('honest-model', { signal: AbortSignal.timeout(10_000) });
    expect(found.map((p) => p.peerId)).toEqual([alice.peerId]);
    expect(found[0].record.version).toBe('test');
    expect(found[0].record.models.map((m) => m.id)).toEqual(['honest-model']);
  });
});
