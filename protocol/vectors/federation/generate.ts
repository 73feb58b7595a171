/**
 * Regenerates the federation vectors in this folder: gateway records (protocol/gateway-record.md) and reservations
 * (protocol/reservations.md), signed with fixed keys, each with its expected verification result.
 *   npx tsx protocol/vectors/federation/generate.ts
 * test/mesh/protocol-vectors.test.ts checks every file against the code.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { AdminKey } from '../../../src/auth/index.js';
import { GATEWAY_RECORD_TYP, signGatewayRecord, signReservation, type ReservationPayload } from '../../../src/federation/index.js';
import { signCompact, signingKeyFromRaw } from '../../../src/ledger/index.js';

const vectorsDir = new URL('.', import.meta.url).pathname;
const NOW = 1_790_000_000_000; // 2026-09-21T14:13:20Z
const HOUR = 3_600_000;

const seedOf = (label: string) => createHash('sha256').update(`meshgate test vector key: ${label}`).digest();

/** An admin key from a fixed seed, through its text form (seed ‖ 4-byte SHA-256 checksum). */
function adminKeyFromLabel(label: string): AdminKey {
  const seed = seedOf(`admin ${label}`);
  const checksum = createHash('sha256').update(seed).digest().subarray(0, 4);
  return AdminKey.parse(`sk-meshgate-${Buffer.concat([seed, checksum]).toString('base64url')}`);
}

async function peerFromLabel(label: string) {
  const key = await generateKeyPairFromSeed('Ed25519', seedOf(label));
  return { id: peerIdFromPrivateKey(key).toString(), signingKey: signingKeyFromRaw(key.raw) };
}

/** Replaces the payload segment of a JWS, keeping header and signature (the signature then no longer covers it). */
function withPayload(jws: string, payload: string): string {
  const [header, , signature] = jws.split('.');
  return `${header}.${Buffer.from(payload).toString('base64url')}.${signature}`;
}

async function write(name: string, vector: object): Promise<void> {
  await writeFile(join(vectorsDir, `${name}.json`), `${JSON.stringify(vector, null, 2)}\n`);
}

async function main(): Promise<void> {
  const gatewayX = adminKeyFromLabel('gateway-x');
  const gatewayM = adminKeyFromLabel('gateway-mallory');
  const x1 = await peerFromLabel('x-node-1');
  const y = await peerFromLabel('y-node');
  const mallory = await peerFromLabel('mallory');

  const valid = signGatewayRecord(gatewayX, x1.id, NOW);
  const record = (name: string, description: string, jws: string, carrier: string, now: number, expected: object) =>
    write(`gateway-record-${name}`, { description, carrier, now, record: jws, expected });
  await record('valid', 'A gateway record of gateway X for its node x1, carried by x1', valid, x1.id, NOW + HOUR, { valid: true, gw: gatewayX.gatewayId, pk: gatewayX.publicKeyText });
  await record('peer-mismatch', 'The valid record, carried by another node than the one it names', valid, mallory.id, NOW + HOUR, { valid: false, reason: 'peer_mismatch' });
  await record('expired', 'The valid record, read after its exp', valid, x1.id, NOW + 25 * HOUR, { valid: false, reason: 'expired' });
  const payload = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const canonical = (p: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.entries(p).sort(([a], [b]) => (a < b ? -1 : 1))));
  await record('bad-signature', 'The valid record with its peer changed to mallory (the signature no longer covers it)', withPayload(valid, canonical({ ...payload, peer: mallory.id })), mallory.id, NOW + HOUR, { valid: false, reason: 'bad_signature' });
  const wrongKey = signCompact(Buffer.from(canonical({ ...payload, pk: gatewayM.publicKeyText })), { alg: 'EdDSA', typ: GATEWAY_RECORD_TYP, kid: gatewayX.gatewayId }, gatewayM.privateKey);
  await record('wrong-key', 'gw and kid are gateway X\'s id, pk is another gateway\'s key (which signed it)', wrongKey, x1.id, NOW + HOUR, { valid: false, reason: 'wrong_key' });
  await record('noncanonical', 'The valid record\'s payload with a space after a colon', withPayload(valid, canonical(payload).replace('"v":1', '"v": 1')), x1.id, NOW + HOUR, { valid: false, reason: 'malformed' });

  const reservation: ReservationPayload = {
    v: 1, gw: gatewayX.gatewayId, iss: x1.id, srv: y.id, tid: 'vector-token-1', rid: 'req-0001', amt: { requests: 1, tokens: 2048, cost: 5_000 }, iat: NOW, exp: NOW + 900_000,
  };
  const reserved = (name: string, description: string, jws: string, issuer: string, expected: object) => write(`reservation-${name}`, { description, issuer, reservation: jws, expected });
  await reserved('valid', 'A reservation by x1 (gateway X) for request req-0001 of token vector-token-1, served by y', signReservation(reservation, x1.signingKey), x1.id, { valid: true, payload: reservation });
  // A forgery: kid and iss name x1, the signature is mallory's.
  const forged = signReservation({ ...reservation, amt: { ...reservation.amt, tokens: 1_000_000 } }, mallory.signingKey);
  await reserved('forged', 'The reservation with a larger amount, signed by another key under x1\'s kid', forged, x1.id, { valid: false, reason: 'forged' });
  await reserved('other-issuer', 'A valid reservation by mallory, presented to x1 as its own', signReservation({ ...reservation, iss: mallory.id }, mallory.signingKey), x1.id, { valid: false, reason: 'forged' });
}

await main();
