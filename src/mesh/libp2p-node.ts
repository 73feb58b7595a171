import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { ComponentLogger, ConnectionGater, Libp2p, Logger, PeerId, PrivateKey } from '@libp2p/interface';
import { defaultLogger } from '@libp2p/logger';
import { kadDHT, passthroughMapper, type SingleKadDHT } from '@libp2p/kad-dht';
import { ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import type { Secret } from '../core/index.js';
import { BoundedDatastore } from './bounded-datastore.js';
import { dhtRecordSelector, dhtRecordValidator, KAD_PROTOCOL, RECORD_NAMESPACE } from './dht-keys.js';
import { noiseCrypto } from './noise-crypto.js';

/** kadDHT() is typed as KadDHT, but without lan/wan split it is a single DHT whose routing table we watch. */
export type MeshLibp2p = Libp2p<{ dht: SingleKadDHT; identify: unknown; ping: unknown }>;

/**
 * yamux lets a stream's receive window grow to 16 MiB, but a paused libp2p stream resets once 4 MiB are buffered;
 * capping the window below that makes pausing a stream real backpressure instead of a reset.
 */
const MAX_STREAM_WINDOW_BYTES = 2 * 1024 * 1024;

/**
 * The private-network key in the go-ipfs swarm.key v1 format that @libp2p/pnet reads. The config may hold only
 * the 64 hex characters of the key or the whole file.
 */
export function swarmKeyBytes(psk: Secret): Uint8Array {
  const text = psk.reveal().trim();
  const hex = /^[0-9a-fA-F]{64}$/.test(text) ? text : /\n\/base16\/\s*\n([0-9a-fA-F]{64})\s*$/.exec(text)?.[1];
  if (!hex) throw new Error('mesh.psk must be 64 hex characters or a /key/swarm/psk/1.0.0/ base16 key file');
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex.toLowerCase()}`);
}

/** allow_peers as a connection gater: other peers cannot connect in, and are never dialled (PeerId checked after Noise). */
export function allowListGater(isAllowed: (peerId: string) => boolean): ConnectionGater {
  const deny = (peer: PeerId) => !isAllowed(peer.toString());
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
  };
}

const silent: Logger = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => silent });

/**
 * libp2p's own debug logs, on only when asked for (`DEBUG=libp2p:*`, the `debug` convention libp2p documents).
 * Off, a logger that does nothing: the default one builds three `debug` instances per stream (each probing the
 * terminal for colours), which showed up as several percent of a forwarded request's CPU time.
 */
export function libp2pLogger(debug = process.env.DEBUG): ComponentLogger {
  return debug && /libp2p/.test(debug) ? defaultLogger() : { forComponent: () => silent };
}

export interface Libp2pNodeOptions {
  privateKey: PrivateKey;
  listen: string[];
  psk?: Secret;
  isAllowed: (peerId: string) => boolean;
  clock: () => number;
}

/**
 * TCP + Noise + Yamux + identify + ping + kad-dht on the private protocol `/meshgate/kad/1.0.0` (never the
 * public IPFS DHT). The DHT runs in server mode with a pass-through peer-info mapper: the defaults assume a
 * public-internet node and drop the private and loopback addresses a LAN mesh lives on, leaving routing tables
 * empty. Queries may run with zero peers so a lone node answers (with nothing) instead of waiting.
 */
export async function createMeshLibp2p(options: Libp2pNodeOptions): Promise<MeshLibp2p> {
  return createLibp2p({
    start: false,
    logger: libp2pLogger(),
    // What DHT peers can make this node store is bounded (see bounded-datastore.ts).
    datastore: new BoundedDatastore(),
    privateKey: options.privateKey,
    addresses: { listen: options.listen },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES } })],
    ...(options.psk && !options.psk.isEmpty ? { connectionProtector: preSharedKey({ psk: swarmKeyBytes(options.psk) }) } : {}),
    connectionGater: allowListGater(options.isAllowed),
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: KAD_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true,
        validators: { [RECORD_NAMESPACE]: dhtRecordValidator(options.clock) },
        selectors: { [RECORD_NAMESPACE]: dhtRecordSelector },
      }),
    },
  }) as Promise<MeshLibp2p>;
}
