import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshNode, meshConfigSchema, type MeshConfigInput } from '../../src/mesh/index.js';
import type { NodeRecord } from '../../src/mesh/index.js';

/** Real mesh nodes on 127.0.0.1 with their own data directories, stopped and removed by `stopAll`. */
export class TestMesh {
  readonly nodes: MeshNode[] = [];
  readonly #dirs: string[] = [];

  async node(config: MeshConfigInput = {}, options: { dataDir?: string; clock?: () => number; beforeStart?: (node: MeshNode) => void } = {}): Promise<MeshNode> {
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'meshgate-mesh-')));
    if (!options.dataDir) this.#dirs.push(dataDir);
    const node = await MeshNode.create({
      config: meshConfigSchema.parse({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...config }),
      dataDir,
      version: 'test',
      clock: options.clock,
    });
    this.nodes.push(node);
    options.beforeStart?.(node);
    await node.start();
    return node;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await Promise.all(this.#dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** Resolves with the first record `node` accepts from `peerId` that satisfies `predicate` (or one it already has). */
export function recordFrom(node: MeshNode, peerId: string, predicate: (r: NodeRecord) => boolean): Promise<NodeRecord> {
  return new Promise((resolve) => {
    const off = node.onPeerRecord((record) => {
      if (record.peerId === peerId && predicate(record)) {
        off();
        resolve(record);
      }
    });
  });
}

export async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield new TextEncoder().encode(part);
}

export async function readText(body: AsyncIterable<Uint8Array>): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of body) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}
