import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { MAX_RECORD_BYTES, selectBestRecord, verifyRecord } from './node-record.js';

/**
 * DHT key layout (protocol/node-record.md, "DHT"). kad-dht picks the validator and selector by the first path segment,
 * so every meshgate value lives under `/meshgate/…` and every node registers both for that namespace.
 */
export const RECORD_NAMESPACE = 'meshgate';
export const KAD_PROTOCOL = '/meshgate/kad/1.0.0';
const MODEL_KEY_PREFIX = 'meshgate/model/1:';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `/meshgate/<base58btc peer id>`: where a node's signed record is stored. */
export function recordKey(peerId: string): Uint8Array {
  return encoder.encode(`/${RECORD_NAMESPACE}/${peerId}`);
}

export function peerIdOfRecordKey(key: Uint8Array): string | undefined {
  const match = /^\/meshgate\/([1-9A-HJ-NP-Za-km-z]+)$/.exec(decoder.decode(key));
  return match?.[1];
}

/** CIDv1 (raw codec) of sha256("meshgate/model/1:" + model id): the key of provider records for a model. */
export async function modelCid(model: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(encoder.encode(MODEL_KEY_PREFIX + model)));
}

/** The kad-dht validator for `/meshgate/<peerId>`: throws unless the record verifies for that peer id now. */
export function dhtRecordValidator(clock: () => number) {
  return async (key: Uint8Array, value: Uint8Array): Promise<void> => {
    if (value.byteLength > MAX_RECORD_BYTES) throw new Error('record too large');
    const peerId = peerIdOfRecordKey(key);
    if (!peerId) throw new Error('not a meshgate record key');
    await verifyRecord(value, peerId, clock());
  };
}

/** The kad-dht selector for `/meshgate/<peerId>`: highest sequence number, then the later expiry. */
export function dhtRecordSelector(_key: Uint8Array, records: Uint8Array[]): number {
  return selectBestRecord(records);
}
