import { generateKeyPairSync, sign } from 'node:crypto';
import { CompactSign, compactVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { JwsError, decodeHeader, signCompact, verifyCompact } from '../../../src/ledger/compact-jws.js';
import { respellLastCharacter } from '../../helpers/base64url.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const payload = new TextEncoder().encode('{"v":1,"hello":"receipt"}');
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('compact JWS with EdDSA', () => {
  it('interoperates with jose both ways (RFC 7515 / RFC 8037)', async () => {
    const ours = signCompact(payload, { alg: 'EdDSA', typ: 't', kid: 'k' }, privateKey);
    expect((await compactVerify(ours, publicKey)).payload).toEqual(payload);
    const theirs = await new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA', typ: 't', kid: 'k' }).sign(privateKey);
    expect(verifyCompact(theirs, publicKey)).toEqual(payload);
    expect(ours).toBe(theirs); // Ed25519 is deterministic and both serialise the header the same way
    expect(decodeHeader(ours)).toEqual({ alg: 'EdDSA', typ: 't', kid: 'k' });
  });

  it('refuses anything but a well-formed EdDSA JWS signed by the key', () => {
    const good = signCompact(payload, { alg: 'EdDSA', typ: 't', kid: 'k' }, privateKey);
    const [h, p, s] = good.split('.') as [string, string, string];
    const resign = (header: unknown) => {
      const head = b64(header);
      return `${head}.${p}.${Buffer.from(sign(null, Buffer.from(`${head}.${p}`), privateKey)).toString('base64url')}`;
    };
    const cases: Array<[string, string]> = [
      ['wrong key', good],
      ['two segments', `${h}.${p}`],
      ['not base64url', `${h}.${p}+.${s}`],
      ['header not JSON', `${Buffer.from('nope').toString('base64url')}.${p}.${s}`],
      ['header an array', resign(['EdDSA'])],
      ['alg none', resign({ alg: 'none', typ: 't', kid: 'k' })],
      ['crit extension', resign({ alg: 'EdDSA', crit: ['exp'], exp: 1 })],
      ['short signature', `${h}.${p}.${s.slice(0, 40)}`],
      ['payload changed', `${h}.${b64({ v: 2 })}.${s}`],
    ];
    for (const [name, jws] of cases) {
      expect(() => verifyCompact(jws, name === 'wrong key' ? other.publicKey : publicKey), name).toThrow(JwsError);
    }
    expect(verifyCompact(good, publicKey)).toEqual(payload);
  });

  it('accepts one text per signed object: canonical base64url segments and the exact protected header', () => {
    const good = signCompact(payload, { alg: 'EdDSA', typ: 't', kid: 'k' }, privateKey);
    const [h, p] = good.split('.') as [string, string, string];
    const resign = (header: string) => {
      const head = Buffer.from(header).toString('base64url');
      return `${head}.${p}.${Buffer.from(sign(null, Buffer.from(`${head}.${p}`), privateKey)).toString('base64url')}`;
    };
    const malformed: Array<[string, string]> = [
      ['signature respelled (an unused bit of its last character set)', respellLastCharacter(good)],
      ['header members in another order', resign('{"typ":"t","alg":"EdDSA","kid":"k"}')],
      ['header with a member more', resign('{"alg":"EdDSA","typ":"t","kid":"k","x5u":"https://example.com"}')],
      ['header with whitespace', resign('{"alg": "EdDSA","typ":"t","kid":"k"}')],
      ['header without kid', resign('{"alg":"EdDSA","typ":"t"}')],
      ['padded segment', `${h}.${p}=.${good.split('.')[2]}`],
    ];
    for (const [name, jws] of malformed) {
      expect(() => verifyCompact(jws, publicKey), name).toThrow(expect.objectContaining({ name: 'JwsError', reason: 'malformed' }));
    }
    // Only the signature failing is a bad signature.
    expect(() => verifyCompact(good, other.publicKey)).toThrow(expect.objectContaining({ reason: 'bad_signature' }));
  });
});
