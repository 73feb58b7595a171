import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { MeshError, type MeshNode } from '../../src/mesh/index.js';
import { chunks, readText, TestMesh } from './mesh-nodes.js';

/** Nodes that cannot connect wait this long for bootstrap and dials, instead of the default. */
const OUTSIDER = { dht_timeout_ms: 1_000 };

function frame() {
  return {
    id: 'req_trust', format: 'openai' as const, operation: 'chat' as const, model: 'm', stream: false,
    body: {}, hop: 1, visited: [], deadline: Date.now() + 10_000,
  };
}

function serveOk(node: MeshNode): void {
  node.setForwardHandler(async () => ({ head: { status: 200, headers: {} }, body: chunks('ok'), trailer: () => ({}) }));
}

async function meshErrorOf(promise: Promise<unknown>): Promise<MeshError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MeshError);
  return err as MeshError;
}

describe('who may join the mesh', () => {
  const mesh = new TestMesh();
  afterAll(() => mesh.stopAll());

  it('allow_peers: a peer not on the list can neither connect nor receive work', async () => {
    const friend = await mesh.node();
    const stranger = await mesh.node();
    const guarded = await mesh.node({ allow_peers: [friend.peerId] });
    serveOk(guarded);
    serveOk(stranger);

    // The stranger knows guarded's address but the gater closes the connection after the Noise handshake.
    const strangerBoot = await mesh.node({ bootstrap: guarded.multiaddrs(), ...OUTSIDER });
    expect(strangerBoot.status().connections).toBe(0);
    const refused = await meshErrorOf(strangerBoot.forward(guarded.peerId, frame(), AbortSignal.timeout(5_000)));
    expect(refused.code).toBe('peer_unreachable');

    // guarded refuses to forward to a peer that is not on its list, before dialling anything.
    const outbound = await meshErrorOf(guarded.forward(stranger.peerId, frame(), AbortSignal.timeout(5_000)));
    expect(outbound.code).toBe('not_allowed');
  });

  it('allow_peers: the listed peer is served', async () => {
    const friendMesh = new TestMesh();
    try {
      const friend = await friendMesh.node();
      const guarded = await friendMesh.node({ allow_peers: [friend.peerId], bootstrap: friend.multiaddrs() });
      serveOk(guarded);
      const result = await friend.forward(guarded.peerId, frame(), AbortSignal.timeout(5_000));
      expect(await readText(result.body)).toBe('ok');
    } finally {
      await friendMesh.stopAll();
    }
  });

  it('psk: only nodes holding the pre-shared key can connect; they forward to each other as usual', async () => {
    const psk = randomBytes(32).toString('hex');
    const member = await mesh.node({ psk });
    serveOk(member);
    const otherMember = await mesh.node({ psk: `/key/swarm/psk/1.0.0/\n/base16/\n${psk}`, bootstrap: member.multiaddrs() });
    expect(await readText((await otherMember.forward(member.peerId, frame(), AbortSignal.timeout(5_000))).body)).toBe('ok');

    const outsider = await mesh.node({ bootstrap: member.multiaddrs(), ...OUTSIDER });
    expect(outsider.status().connections).toBe(0);
    expect((await meshErrorOf(outsider.forward(member.peerId, frame(), AbortSignal.timeout(5_000)))).code).toBe('peer_unreachable');

    const wrongKey = await mesh.node({ psk: randomBytes(32).toString('hex'), bootstrap: member.multiaddrs(), ...OUTSIDER });
    expect(wrongKey.status().connections).toBe(0);
    expect((await meshErrorOf(wrongKey.forward(member.peerId, frame(), AbortSignal.timeout(5_000)))).code).toBe('peer_unreachable');
  });
});
