import Fastify from 'fastify';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AdminKey,
  adminRoutes,
  generateGatewayToken,
  mintAccessToken,
  runTokenCommand,
  TokenClaimsError,
  TokenRejectedError,
  verifyAccessToken,
  type TokenRejection,
} from '../../../src/auth/index.js';
import { errorBody, toGatewayError } from '../../../src/errors/index.js';
import { respellLastCharacter } from '../../helpers/base64url.js';
import { accessControlFixture } from './access-control-fixture.js';

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function rejection(promise: Promise<unknown>): Promise<TokenRejection> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TokenRejectedError) return err.reason;
    throw err;
  }
  throw new Error('the token was accepted');
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('minting: library, CLI and admin API produce the same token', () => {
  it('round-trips the claims through all three paths, byte for byte', async () => {
    const fixture = await accessControlFixture({ mode: 'token' }, { now: () => NOW });
    closers.push(fixture.close);
    const secret = fixture.ac.adminKey.secret.reveal();
    const claims = {
      domains: ['myapp.com', '*.myapp.com'],
      requests: { limit: 100, period: 'day' as const },
      tokens: { limit: 50_000, period: 'month' as const },
      ipQuota: { limit: 20, period: 'hour' as const },
      cost: { limit: 5, currency: 'USD' as const, period: 'lifetime' as const },
      allowedCountries: ['US', 'GB'],
      blockedCountries: ['RU'],
      models: ['gpt-4o-mini', 'claude-*'],
      expiresIn: 3_600_000,
      jti: 'same-id-for-all-three',
    };

    const fromLibrary = await generateGatewayToken(secret, claims, { now: NOW });

    const out: string[] = [];
    const code = await runTokenCommand(
      ['create', '--domain', 'myapp.com', '--domain', '*.myapp.com', '--requests', '100/day', '--tokens', '50000/month', '--ip-quota', '20/hour',
        '--cost', '5', '--allow-country', 'US,GB', '--block-country', 'RU', '--model', 'gpt-4o-mini', '--model', 'claude-*',
        '--expires-in', '1h', '--jti', 'same-id-for-all-three'],
      { out: (line) => out.push(line), err: (line) => out.push(`ERR ${line}`), env: { MESHGATE_ADMIN_KEY: secret }, now: () => NOW },
    );
    expect(code).toBe(0);
    const fromCli = out[0];

    const app = Fastify();
    app.setErrorHandler((err, _request, reply) => {
      const error = toGatewayError(err);
      void reply.code(error.status).headers(error.headers).send(errorBody('openai', error));
    });
    await app.register(adminRoutes(fixture.ac.tokens, fixture.ac.admin));
    const response = await app.inject({ method: 'POST', url: '/v1/admin/tokens', headers: { authorization: `Bearer ${secret}` }, payload: claims });
    expect(response.statusCode).toBe(201);
    const fromApi = response.json() as { token: string; id: string; expiresAt: number };
    expect(fromApi).toMatchObject({ id: 'same-id-for-all-three', expiresAt: NOW + 3_600_000 });

    // Ed25519 signatures are deterministic (RFC 8032 §5.1.6), so equal claims give equal tokens.
    expect(fromCli).toBe(fromLibrary);
    expect(fromApi.token).toBe(fromLibrary);

    const verified = await verifyAccessToken(fromLibrary, { key: fixture.ac.adminKey.publicKeyText, now: NOW });
    const { expiresIn: _relative, ...signedClaims } = claims;
    expect(verified.payload).toEqual({ ...signedClaims, iss: fixture.ac.adminKey.gatewayId, iat: NOW / 1000, exp: (NOW + 3_600_000) / 1000 });
    expect(verified.expiresAt).toBe(NOW + 3_600_000);
  });
});

describe('verification rejects', () => {
  const key = AdminKey.generate();
  const other = AdminKey.generate();
  const mint = (claims: Record<string, unknown> = {}, now = NOW) => mintAccessToken(key, { jti: 'token-under-test', ...claims }, now);
  const verify = (token: string, now = NOW) => verifyAccessToken(token, { key, now, clockSkewSeconds: 30 });

  it('accepts a good token', async () => {
    const { token } = await mint({ expiresIn: 60_000 });
    await expect(verify(token)).resolves.toMatchObject({ id: 'token-under-test' });
  });

  it('a tampered payload (bad signature)', async () => {
    const { token } = await mint({ requests: { limit: 10, period: 'day' } });
    const [prefix, header, , signature] = token.split('.');
    const forged = `${prefix}.${header}.${b64({ requests: { limit: 1_000_000, period: 'day' }, iss: key.gatewayId, jti: 'token-under-test', iat: NOW / 1000 })}.${signature}`;
    expect(await rejection(verify(forged))).toBe('bad_signature');
  });

  it('an expired token, beyond the clock skew only', async () => {
    const { token } = await mint({ expiresIn: 60_000 });
    await expect(verify(token, NOW + 60_000 + 20_000)).resolves.toBeDefined();
    expect(await rejection(verify(token, NOW + 60_000 + 31_000))).toBe('expired');
  });

  it('a token used before nbf', async () => {
    const { token } = await mint({ nbf: NOW + 3_600_000 });
    expect(await rejection(verify(token))).toBe('not_yet_valid');
  });

  it('a token signed by another gateway key', async () => {
    const { token } = await mintAccessToken(other, { jti: 'token-under-test' }, NOW);
    expect(await rejection(verify(token))).toBe('wrong_gateway');
    // Relabelled with our gateway id, its signature still does not verify with our key.
    const relabelled = token.replace(/^mg-[0-9a-f]{16}\./, `mg-${key.gatewayId}.`);
    expect(await rejection(verify(relabelled))).toBe('bad_signature');
  });

  it('alg: none and HMAC tokens (algorithm pinned to EdDSA)', async () => {
    const payload = { iss: key.gatewayId, jti: 'token-under-test', iat: NOW / 1000 };
    const none = `mg-${key.gatewayId}.${b64({ alg: 'none', typ: 'mg-access+jwt' })}.${b64(payload)}.`;
    expect(await rejection(verify(none))).toBe('bad_algorithm');
    const hmac = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'mg-access+jwt' }).sign(new TextEncoder().encode(key.publicKeyText));
    expect(await rejection(verify(`mg-${key.gatewayId}.${hmac}`))).toBe('bad_algorithm');
  });

  it('a JWT of another type signed by the same key', async () => {
    const jwt = await new SignJWT({ iss: key.gatewayId, jti: 'token-under-test' }).setIssuedAt(NOW / 1000).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' }).sign(key.privateKey);
    expect(await rejection(verify(`mg-${key.gatewayId}.${jwt}`))).toBe('invalid_claims');
  });

  it('a signed token with a claim this version does not understand (fails closed)', async () => {
    const jwt = await new SignJWT({ iss: key.gatewayId, jti: 'token-under-test', maxSpend: 1 }).setIssuedAt(NOW / 1000).setProtectedHeader({ alg: 'EdDSA', typ: 'mg-access+jwt' }).sign(key.privateKey);
    expect(await rejection(verify(`mg-${key.gatewayId}.${jwt}`))).toBe('invalid_claims');
  });

  it('a revoked token', async () => {
    const { token } = await mint();
    expect(await rejection(verifyAccessToken(token, { key, now: NOW, isRevoked: (id) => id === 'token-under-test' }))).toBe('revoked');
  });

  it('a signature in non-canonical base64url (same bytes, another spelling), while the canonical one verifies', async () => {
    const { token } = await mint({ expiresIn: 60_000 });
    const respelled = respellLastCharacter(token);
    expect(Buffer.from(respelled.split('.').at(-1)!, 'base64url')).toEqual(Buffer.from(token.split('.').at(-1)!, 'base64url'));
    expect(await rejection(verify(respelled))).toBe('malformed');
    await expect(verify(token)).resolves.toBeDefined();
  });

  it('text that is not an access token', async () => {
    for (const text of ['', 'mg-', 'mg-zz.a.b.c', `mg-${key.gatewayId}.only.two`, `mg-${key.gatewayId}.a.b.c`]) {
      expect(await rejection(verify(text))).toBe('malformed');
    }
  });
});

describe('minting refuses bad claims with a clear error', () => {
  const key = AdminKey.generate();
  const badValues: Record<string, unknown[]> = {
    domains: ['myapp.com', ['https://myapp.com'], ['myapp.com:8080'], ['*.*.myapp.com'], ['my app.com'], ['foo*.com'], [''], [42]],
    requests: [10, { limit: 0, period: 'day' }, { limit: -1, period: 'day' }, { limit: 1.5, period: 'day' }, { limit: 10, period: 'week' }, { limit: 10 }, { limit: '10', period: 'day' }, { limit: 10, period: 'day', extra: 1 }],
    tokens: [{ limit: Number.NaN, period: 'day' }, { limit: Number.POSITIVE_INFINITY, period: 'hour' }, null],
    ipQuota: [{ limit: 0, period: 'hour' }, 'lots', []],
    cost: [{ limit: 0 }, { limit: -5 }, { limit: 1.0000001 }, { limit: 5, currency: 'EUR' }, { limit: '5' }],
    allowedCountries: ['US', ['USA'], ['U'], [1], ['u$']],
    blockedCountries: [['Russia'], [null]],
    models: [[''], ['gpt-*-mini'], 'gpt-4o'],
    exp: [NOW - 1, 1.5, -1, '2030-01-01'],
    expiresIn: [0, -1000, 'forever', 1e20],
    nbf: [-5, 'soon'],
    jti: ['short', 'has spaces in it', 'x'.repeat(65), 7],
    sub: ['', 5],
    unknownClaim: [1, 'x'],
  };

  it('names the offending claim for every bad value', async () => {
    for (const [field, values] of Object.entries(badValues)) {
      for (const value of values) {
        const attempt = mintAccessToken(key, { [field]: value }, NOW);
        await expect(attempt, `${field} = ${JSON.stringify(value)}`).rejects.toBeInstanceOf(TokenClaimsError);
        await expect(attempt, `${field} = ${JSON.stringify(value)}`).rejects.toThrow(field === 'unknownClaim' ? /unknownClaim/ : new RegExp(field));
      }
    }
  });

  it('fuzz: random mixes of good claims with one bad claim are always refused with TokenClaimsError', async () => {
    const good: Record<string, unknown> = { domains: ['a.example'], requests: { limit: 3, period: 'hour' }, cost: { limit: 0.25 }, models: ['m'], expiresIn: 1_000 };
    let seed = 12345;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const fields = Object.keys(badValues);
    for (let i = 0; i < 300; i += 1) {
      const claims: Record<string, unknown> = {};
      for (const [field, value] of Object.entries(good)) if (random() < 0.5) claims[field] = value;
      const badField = fields[Math.floor(random() * fields.length)]!;
      const pool = badValues[badField]!;
      claims[badField] = pool[Math.floor(random() * pool.length)];
      if (badField === 'exp') delete claims.expiresIn;
      await expect(mintAccessToken(key, claims, NOW), JSON.stringify(claims)).rejects.toBeInstanceOf(TokenClaimsError);
    }
  });

  it('refuses exp together with expiresIn, and an nbf after the expiry', async () => {
    await expect(mintAccessToken(key, { exp: NOW + 10_000, expiresIn: 10_000 }, NOW)).rejects.toThrow(/either exp or expiresIn/);
    await expect(mintAccessToken(key, { expiresIn: 10_000, nbf: NOW + 20_000 }, NOW)).rejects.toThrow(/nbf/);
  });

  it('reports a malformed secret key from the library without echoing it', async () => {
    await expect(generateGatewayToken('sk-meshgate-nope', {})).rejects.toThrow(/48 base64url characters/);
  });
});
