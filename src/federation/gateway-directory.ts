import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { NodeRecord } from '../mesh/index.js';
import { GatewayRecordError, verifyGatewayRecord, type VerifiedGatewayRecord } from './gateway-record.js';

/** Verified gateway records kept (by their JWS text), so a record is checked once, not on every request. */
const VERIFIED_CACHE_SIZE = 4_096;

/** What the directory needs of the mesh: the live signed records of the peers it knows (node-record.md). */
export interface PeerRecordSource {
  peerRecords(): NodeRecord[];
}

/** A gateway as the mesh shows it now: its token-signing key and the nodes that speak for it. */
export interface KnownGateway {
  publicKey: KeyObject;
  /** `pk-meshgate-…` of `publicKey`. */
  publicKeyText: string;
  /** Peer ids whose live node record carries a valid gateway record of this gateway. */
  nodes: string[];
}

/**
 * The gateways the mesh knows, read from the gateway records inside live node records (protocol/gateway-record.md).
 * A record that does not verify is ignored (and logged once); a node whose record expired or was withdrawn is no
 * longer listed, since only live records are read.
 */
export class GatewayDirectory {
  readonly #verified = new Map<string, VerifiedGatewayRecord | null>();
  #source: PeerRecordSource | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The mesh to read from (set once the mesh node exists). */
  attach(source: PeerRecordSource): void {
    this.#source = source;
  }

  /**
   * The gateway `gatewayId` as known now, or undefined when no live node of it is known. `pinnedKey` (`pk-meshgate-…`,
   * from `federation.trusted_gateways`): only records naming that key count.
   */
  find(gatewayId: string, pinnedKey?: string): KnownGateway | undefined {
    let found: KnownGateway | undefined;
    const now = this.now();
    for (const record of this.#source?.peerRecords() ?? []) {
      if (!record.gateway || record.withdrawn) continue;
      const verified = this.#verify(record.gateway, record.peerId, now);
      if (!verified || verified.payload.gw !== gatewayId || verified.payload.exp <= now) continue;
      if (pinnedKey !== undefined && verified.payload.pk !== pinnedKey) continue;
      // Every record of one gateway id names the same key, or the fingerprint collided: the first one wins and the
      // odd one is ignored (a trusted_gateways entry pinning the key decides which is right).
      if (!found) found = { publicKey: verified.publicKey, publicKeyText: verified.payload.pk, nodes: [] };
      if (verified.payload.pk === found.publicKeyText) found.nodes.push(record.peerId);
    }
    return found;
  }

  #verify(jws: string, carrier: string, now: number): VerifiedGatewayRecord | null {
    const key = `${carrier} ${jws}`;
    const cached = this.#verified.get(key);
    if (cached !== undefined) return cached;
    let verified: VerifiedGatewayRecord | null;
    try {
      verified = verifyGatewayRecord(jws, carrier, now);
    } catch (err) {
      this.logger.warn({ peer: carrier, err: (err as Error).message }, 'federation: gateway record rejected');
      // A record refused for the time (expired, from the future) may be fine later: checked again then.
      if (err instanceof GatewayRecordError && (err.reason === 'expired' || err.reason === 'not_yet_valid')) return null;
      verified = null;
    }
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(key, verified);
    return verified;
  }
}
