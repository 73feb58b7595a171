/**
 * Regenerates the mesh's JSON Schemas in protocol/schemas (from the zod schemas that are the source of truth) and
 * the node-record vectors in this folder (signed with fixed keys, with their expected verification result).
 *   npx tsx protocol/vectors/records/generate.ts
 * test/mesh/protocol-vectors.test.ts fails if the committed files drift from the code.
 */
import { writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { canonicalJson } from '../../../src/core/index.js';
import { PROTOCOL_SCHEMAS, protocolSchemaText } from '../../../src/protocol-schemas.js';
import { signRecord, SIGNING_CONTEXT, type RecordPayload } from '../../../src/mesh/node-record.js';

const vectorsDir = new URL('.', import.meta.url).pathname;
const schemasDir = new URL('../../schemas/', import.meta.url).pathname;

async function keyFromLabel(label: string) {
  const seed = createHash('sha256').update(`meshgate test vector key: ${label}`).digest();
  return generateKeyPairFromSeed('Ed25519', seed);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ISSUED_AT = 1_790_000_000_000; // 2026-09-21T14:13:20Z
const TTL = 300_000;

function payload(peerId: string, overrides: Partial<RecordPayload> = {}): RecordPayload {
  return {
    v: 1,
    peerId,
    addrs: [`/ip4/192.0.2.10/tcp/4930/p2p/${peerId}`],
    models: [
      { id: 'gpt-4o-mini', contextLength: 128000, capabilities: ['chat', 'tools', 'vision'], price: { inputPerMTok: 0.15, outputPerMTok: 0.6, cachedInputPerMTok: 0.075 } },
      { id: 'text-embedding-3-small', capabilities: ['embeddings'] },
    ],
    capacity: { maxConcurrent: 64, inFlight: 3 },
    version: '0.1.0',
    seq: ISSUED_AT,
    issuedAt: ISSUED_AT,
    expiresAt: ISSUED_AT + TTL,
    ...overrides,
  };
}

async function main(): Promise<void> {
  for (const file of Object.keys(PROTOCOL_SCHEMAS)) await writeFile(join(schemasDir, file), protocolSchemaText(file));

  const alice = await keyFromLabel('alice');
  const mallory = await keyFromLabel('mallory');
  const aliceId = peerIdFromPrivateKey(alice).toString();
  const malloryId = peerIdFromPrivateKey(mallory).toString();
  const decoder = new TextDecoder();
  const vector = async (name: string, description: string, p: RecordPayload, signer: typeof alice, keyPeerId: string, now: number, expected: object, alter = (record: string) => record) => {
    const bytes = new TextEncoder().encode(alter(decoder.decode(await signRecord(p, signer))));
    const text = `${JSON.stringify({
      description,
      dhtKey: `/meshgate/${keyPeerId}`,
      now,
      signingInput: SIGNING_CONTEXT + canonicalJson(p),
      record: decoder.decode(bytes),
      expected,
    }, null, 2)}\n`;
    await writeFile(join(vectorsDir, `${name}.json`), text);
  };
  const now = ISSUED_AT + 60_000;
  await vector('record-valid', 'A record signed by the key inside the peer id of its DHT key, within its validity window.', payload(aliceId), alice, aliceId, now, { valid: true });
  await vector('record-wrong-key', 'Claims to be alice\'s record but is signed by mallory\'s key.', payload(aliceId), mallory, aliceId, now, { valid: false, reason: 'bad_signature' });
  await vector('record-peer-mismatch', 'Mallory\'s own valid signature, but filed under alice\'s DHT key.', payload(malloryId), mallory, aliceId, now, { valid: false, reason: 'peer_id_mismatch' });
  await vector('record-expired', 'A correctly signed record checked after its expiresAt.', payload(aliceId), alice, aliceId, ISSUED_AT + TTL, { valid: false, reason: 'expired' });
  // The signature's last character with one of its unused low bits flipped: the same 64 bytes, another spelling.
  const respell = (record: string) => record.replace(/([A-Za-z0-9_-])"}$/, (_, last: string) => `${BASE64URL[BASE64URL.indexOf(last) ^ 1]}"}`);
  await vector('record-noncanonical-signature', 'Alice\'s valid record with its signature spelled in non-canonical base64url (an unused bit of the last character set): it decodes to the same bytes, but only the canonical spelling is accepted.', payload(aliceId), alice, aliceId, now, { valid: false, reason: 'malformed' }, respell);
  await vector('record-noncanonical-payload', 'Alice\'s valid record with a duplicate key in its payload (an earlier "inFlight":0 that JSON.parse overwrites with the signed 3): the signature covers the canonical payload, but only the canonical record text is accepted, since a parser that keeps the first value would read another record.', payload(aliceId), alice, aliceId, now, { valid: false, reason: 'malformed' }, (record) => record.replace('"inFlight":3', '"inFlight":0,"inFlight":3'));
  const manyModels = Array.from({ length: 400 }, (_, i) => ({ id: `model-${String(i).padStart(3, '0')}-${'x'.repeat(120)}`, capabilities: ['chat'] }));
  await vector('record-oversized', 'A correctly signed record larger than 65536 bytes.', payload(aliceId, { models: manyModels }), alice, aliceId, now, { valid: false, reason: 'too_large' });
}

await main();
