/**
 * Regenerates receipts.json: `npx tsx protocol/vectors/receipts/generate.ts`. Keys come from fixed seeds and
 * Ed25519 signatures are deterministic, so the output is byte-for-byte stable.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { signCompact } from '../../../src/ledger/compact-jws.js';
import { RECEIPT_TYP, channelId, costMicros, receiptHash, signAck, signReceipt, signingKeyFromRaw, type ReceiptPayload } from '../../../src/ledger/index.js';

const seed = (n: number) => new Uint8Array(32).fill(n);
const [server, client, mallory] = await Promise.all([1, 2, 3].map(async (n) => {
  const key = await generateKeyPairFromSeed('Ed25519', seed(n));
  return { id: peerIdFromPrivateKey(key).toString(), signing: signingKeyFromRaw(key.raw), seed: Buffer.from(seed(n)).toString('hex') };
}));

const price = { input: 2_500_000, output: 10_000_000, cached: 1_250_000 };
const usage = { input: 1200, output: 300, cached: 200 };
const cost = costMicros(usage, price);
const ch = channelId(server!.id, client!.id);
const payload = (seq: number, prev: string | null): ReceiptPayload => ({
  v: 1, iss: server!.id, sub: client!.id, ch, seq, rid: `req-${seq}`, model: 'gpt-4o', usage, price, cost, total: seq * cost, prev, iat: 1_764_000_000_000 + seq,
});
const r1 = await signReceipt(payload(1, null), server!.signing);
const r2 = await signReceipt(payload(2, receiptHash(r1)), server!.signing);
const r3 = await signReceipt(payload(3, receiptHash(r2)), server!.signing);
const [h, p, s] = r2.split('.');
const tampered = [h, Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), cost: 1, total: cost + 1 })).toString('base64url'), s].join('.');
// A valid receipt of another peer, delivered on the server's stream: its kid is not the peer on the stream.
const wrongSigner = await signReceipt({ ...payload(2, receiptHash(r1)), iss: mallory!.id, ch: channelId(mallory!.id, client!.id) }, mallory!.signing);
const badTotal = await signReceipt({ ...payload(2, receiptHash(r1)), total: 5 * cost }, server!.signing);
// Receipt 2 with the last signature character's unused low bit flipped: the same signature bytes, another text (and
// so another hash), which a lenient base64url decoder accepts.
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const respelled = `${r2.slice(0, -1)}${B64[B64.indexOf(r2.at(-1)!) ^ 1]}`;
// Receipt 2's payload as other bytes with the same meaning, each validly signed by the server.
const canonicalText = Buffer.from(r2.split('.')[1]!, 'base64url').toString('utf8');
const signText = (text: string) => {
  if (text === canonicalText) throw new Error('a non-canonical variant came out canonical');
  return signCompact(new TextEncoder().encode(text), { alg: 'EdDSA', typ: RECEIPT_TYP, kid: server!.id }, server!.signing);
};
const withWhitespace = signText(JSON.stringify(JSON.parse(canonicalText), null, 1));
const duplicateKey = signText(canonicalText.replace(`"cost":${cost},`, `"cost":1,"cost":${cost},`));
const exponent = signText(canonicalText.replace(`"iat":${1_764_000_000_002}`, '"iat":1.764000000002e12'));
const reordered = signText(JSON.stringify({ iss: server!.id, ...JSON.parse(canonicalText) })); // "iss" before "v"

const vectors = {
  description: 'Receipt acceptance vectors (protocol/receipts.md). For each case, the subject has accepted `accepted` in order, then checks `receipt` for request `request_id` from `from_peer`; `expect` is "valid" or the dispute reason.',
  keys: { server: { seed: server!.seed, peer_id: server!.id }, client: { seed: client!.seed, peer_id: client!.id }, other: { seed: mallory!.seed, peer_id: mallory!.id } },
  price, usage, cost_micros: cost,
  acknowledgement_of_receipt_1: await signAck(r1, client!.signing, client!.id),
  cases: [
    { name: 'first receipt', accepted: [], receipt: r1, request_id: 'req-1', from_peer: server!.id, expect: 'valid' },
    { name: 'chained receipt', accepted: [r1], receipt: r2, request_id: 'req-2', from_peer: server!.id, expect: 'valid' },
    { name: 'tampered payload', accepted: [r1], receipt: tampered, request_id: 'req-2', from_peer: server!.id, expect: 'bad_signature' },
    { name: 'replayed receipt', accepted: [r1, r2], receipt: r2, request_id: 'req-2', from_peer: server!.id, expect: 'replayed' },
    { name: 'out of order', accepted: [r1], receipt: r3, request_id: 'req-3', from_peer: server!.id, expect: 'out_of_order' },
    { name: 'signed by another peer', accepted: [r1], receipt: wrongSigner, request_id: 'req-2', from_peer: server!.id, expect: 'wrong_signer' },
    { name: 'cumulative total does not add up', accepted: [r1], receipt: badTotal, request_id: 'req-2', from_peer: server!.id, expect: 'wrong_total' },
    { name: 'receipt for another request', accepted: [r1], receipt: r2, request_id: 'req-9', from_peer: server!.id, expect: 'wrong_request' },
    { name: 'signature in non-canonical base64url', accepted: [r1], receipt: respelled, request_id: 'req-2', from_peer: server!.id, expect: 'malformed' },
    { name: 'payload with insignificant whitespace', accepted: [r1], receipt: withWhitespace, request_id: 'req-2', from_peer: server!.id, expect: 'malformed' },
    { name: 'payload with a duplicate key', accepted: [r1], receipt: duplicateKey, request_id: 'req-2', from_peer: server!.id, expect: 'malformed' },
    { name: 'payload with a number in exponent form', accepted: [r1], receipt: exponent, request_id: 'req-2', from_peer: server!.id, expect: 'malformed' },
    { name: 'payload keys in another order', accepted: [r1], receipt: reordered, request_id: 'req-2', from_peer: server!.id, expect: 'malformed' },
  ],
};
writeFileSync(join(import.meta.dirname, 'receipts.json'), `${JSON.stringify(vectors, null, 2)}\n`);
console.log(`wrote ${vectors.cases.length} cases`);
