import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PerPeerRate, canonicalJson } from '../../src/core/index.js';
import { dhtRecordValidator, peerIdOfRecordKey } from '../../src/mesh/dht-keys.js';
import { decodeSessionFrame, encodeSessionFrame, SessionFrameError, type SessionFrame } from '../../src/mesh/forward-frames.js';
import { MAX_RECORD_BYTES, RecordError, SIGNING_CONTEXT, verifyRecord } from '../../src/mesh/node-record.js';
import { MAX_RECORD_EXCHANGES_PER_PEER, RECORD_EXCHANGE_BURST, RECORD_EXCHANGES_PER_SECOND, RECORD_PROTOCOL } from '../../src/mesh/record-exchange.js';
import { PROTOCOL_SCHEMAS, protocolSchemaText } from '../../src/protocol-schemas.js';
import { GatewayRecordError, ReservationError, verifyGatewayRecord, verifyReservation } from '../../src/federation/index.js';

const protocolDir = join(import.meta.dirname, '../../protocol');

interface RecordVector {
  description: string;
  dhtKey: string;
  now: number;
  signingInput: string;
  record: string;
  expected: { valid: true } | { valid: false; reason: string };
}

const vectorFiles = (await readdir(join(protocolDir, 'vectors', 'records'))).filter((f) => /^record-.*\.json$/.test(f));

describe('protocol/vectors: signed node records', () => {
  it('has the vectors the spec promises', () => {
    expect(vectorFiles.sort()).toEqual(['record-expired.json', 'record-noncanonical-payload.json', 'record-noncanonical-signature.json', 'record-oversized.json', 'record-peer-mismatch.json', 'record-valid.json', 'record-wrong-key.json']);
  });

  it.each(vectorFiles)('%s verifies as expected, by the record check and by the DHT validator', async (file) => {
    const vector = JSON.parse(await readFile(join(protocolDir, 'vectors', 'records', file), 'utf8')) as RecordVector;
    const bytes = new TextEncoder().encode(vector.record);
    const keyBytes = new TextEncoder().encode(vector.dhtKey);
    const peerId = peerIdOfRecordKey(keyBytes);
    expect(peerId).toBeDefined();
    const outcome = await verifyRecord(bytes, peerId!, vector.now).then(
      () => ({ valid: true }),
      (err: unknown) => ({ valid: false, reason: err instanceof RecordError ? err.reason : String(err) }),
    );
    expect(outcome).toEqual(vector.expected);
    const validated = await dhtRecordValidator(() => vector.now)(keyBytes, bytes).then(() => true, () => false);
    expect(validated).toBe(vector.expected.valid);
    if (bytes.byteLength <= 64 * 1024) {
      // The signing input is the context line plus the RFC 8785 canonical JSON of the payload.
      const { payload } = JSON.parse(vector.record) as { payload: unknown };
      expect(SIGNING_CONTEXT + canonicalJson(payload)).toBe(vector.signingInput);
    }
  });

  it('rejects the valid vector once anything in its payload changes', async () => {
    const vector = JSON.parse(await readFile(join(protocolDir, 'vectors', 'records', 'record-valid.json'), 'utf8')) as RecordVector;
    const tampered = vector.record.replace('"inFlight":3', '"inFlight":0');
    expect(tampered).not.toBe(vector.record);
    await expect(verifyRecord(new TextEncoder().encode(tampered), peerIdOfRecordKey(new TextEncoder().encode(vector.dhtKey))!, vector.now))
      .rejects.toMatchObject({ reason: 'bad_signature' });
  });
});

describe('protocol/vectors: record exchange limits', () => {
  it('are the limits the implementation enforces (test/mesh/attack-record-streams.test.ts drives them)', async () => {
    const limits = JSON.parse(await readFile(join(protocolDir, 'vectors', 'records', 'exchange-limits.json'), 'utf8')) as {
      protocol: string; maxInFlightPerPeer: number; maxRecordBytes: number; exchangesPerSecondPerPeer: number; exchangeBurstPerPeer: number;
      cases: Array<{ inFlight: number; expected: 'reset' | 'served' }>;
      rateCases: Array<{ description: string; servedBefore: number; secondsLater: number; expected: 'reset' | 'served' }>;
    };
    expect([limits.protocol, limits.maxInFlightPerPeer, limits.maxRecordBytes, limits.exchangesPerSecondPerPeer, limits.exchangeBurstPerPeer])
      .toEqual([RECORD_PROTOCOL, MAX_RECORD_EXCHANGES_PER_PEER, MAX_RECORD_BYTES, RECORD_EXCHANGES_PER_SECOND, RECORD_EXCHANGE_BURST]);
    for (const c of limits.cases) expect(c.inFlight >= MAX_RECORD_EXCHANGES_PER_PEER ? 'reset' : 'served').toBe(c.expected);
    // The rate cases through the bucket the listener uses, with its constants.
    for (const c of limits.rateCases) {
      let now = 0;
      const rate = new PerPeerRate(RECORD_EXCHANGES_PER_SECOND, () => now, RECORD_EXCHANGE_BURST / RECORD_EXCHANGES_PER_SECOND);
      for (let i = 0; i < c.servedBefore; i++) expect(rate.admit('peer')).toBe(true);
      now += c.secondsLater * 1000;
      expect([c.description, rate.admit('peer') ? 'served' : 'reset']).toEqual([c.description, c.expected]);
    }
  });
});

interface SessionVectors {
  valid: Array<{ description: string; sid: number; frame: { type: string; value?: unknown; base64?: string }; hex: string }>;
  invalid: Array<{ description: string; hex: string; closes: 'session' | 'request'; sid?: number }>;
  skipped: Array<{ description: string; sid: number; type: number; hex: string }>;
}

const sessionVectors = JSON.parse(await readFile(join(protocolDir, 'vectors', 'forward', 'session-frames.json'), 'utf8')) as SessionVectors;

/** A vector's frame as the code holds it (DATA payloads are base64 in the file). */
function vectorFrame(frame: SessionVectors['valid'][number]['frame']): SessionFrame {
  return (frame.base64 === undefined ? frame : { type: 'data', value: new Uint8Array(Buffer.from(frame.base64, 'base64')) }) as SessionFrame;
}

/** The frame body after its uvarint length prefix, checking that the prefix counts exactly the bytes that follow. */
function frameBody(hex: string): Uint8Array {
  const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
  let length = 0;
  let offset = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = bytes[offset++]!;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  expect(bytes.byteLength - offset).toBe(length);
  return bytes.subarray(offset);
}

describe('protocol/vectors: /meshgate/forward/2.0.0 frames', () => {
  it.each(sessionVectors.valid)('$description: encodes to the vector and decodes back', ({ sid, frame, hex }) => {
    const expected = vectorFrame(frame);
    expect(Buffer.from(encodeSessionFrame(sid, expected as Exclude<SessionFrame, { type: 'unknown' }>).subarray()).toString('hex')).toBe(hex);
    expect(decodeSessionFrame(frameBody(hex))).toEqual({ sid, frame: expected });
  });

  it.each(sessionVectors.invalid)('$description', ({ hex, closes, sid }) => {
    const err = (() => {
      try {
        decodeSessionFrame(frameBody(hex));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SessionFrameError);
    expect((err as SessionFrameError).sid).toBe(closes === 'session' ? undefined : sid);
  });

  it.each(sessionVectors.skipped)('$description', ({ hex, sid, type }) => {
    expect(decodeSessionFrame(frameBody(hex))).toEqual({ sid, frame: { type: 'unknown', code: type } });
  });
});

describe('protocol/schemas', () => {
  it.each(Object.keys(PROTOCOL_SCHEMAS))('%s matches the zod schema the code validates with', async (file) => {
    const published = await readFile(join(protocolDir, 'schemas', file), 'utf8');
    expect(published, `protocol/schemas/${file} is out of date: run npx tsx protocol/schemas/generate.ts`).toBe(protocolSchemaText(file));
  });
});

const federationDir = join(protocolDir, 'vectors', 'federation');
const federationFiles = (await readdir(federationDir)).filter((f) => f.endsWith('.json'));

describe('protocol/vectors: federation (gateway records, reservations)', () => {
  const dir = federationDir;
  const files = federationFiles;

  it('has the vectors the spec promises', () => {
    expect(files.sort()).toEqual([
      'gateway-record-bad-signature.json', 'gateway-record-expired.json', 'gateway-record-noncanonical.json', 'gateway-record-peer-mismatch.json', 'gateway-record-valid.json',
      'gateway-record-wrong-key.json', 'reservation-forged.json', 'reservation-other-issuer.json', 'reservation-valid.json',
    ]);
  });

  it.each(files.filter((f) => f.startsWith('gateway-record-')))('%s verifies as expected', async (file) => {
    const vector = JSON.parse(await readFile(join(dir, file), 'utf8')) as { carrier: string; now: number; record: string; expected: { valid: boolean; reason?: string; gw?: string; pk?: string } };
    const outcome = (() => {
      try {
        const { payload } = verifyGatewayRecord(vector.record, vector.carrier, vector.now);
        return { valid: true, gw: payload.gw, pk: payload.pk };
      } catch (err) {
        return { valid: false, reason: err instanceof GatewayRecordError ? err.reason : String(err) };
      }
    })();
    expect(outcome).toEqual(vector.expected);
  });

  it.each(files.filter((f) => f.startsWith('reservation-')))('%s verifies as expected', async (file) => {
    const vector = JSON.parse(await readFile(join(dir, file), 'utf8')) as { issuer: string; reservation: string; expected: { valid: boolean; reason?: string; payload?: unknown } };
    const outcome = (() => {
      try {
        return { valid: true, payload: verifyReservation(vector.reservation, vector.issuer) };
      } catch (err) {
        return { valid: false, reason: err instanceof ReservationError ? err.reason : String(err) };
      }
    })();
    expect(outcome).toEqual(vector.expected);
  });
});
