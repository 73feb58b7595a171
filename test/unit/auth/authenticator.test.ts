import { afterEach, describe, expect, it } from 'vitest';
import { AdminKey, generateGatewayToken } from '../../../src/auth/index.js';
import { defaultGeoDatabasePath } from '../../../src/policy/index.js';
import { accessControlFixture, bearer, failure, fixtureCloser, tokenPrincipal } from './access-control-fixture.js';

const { fixture, closers } = fixtureCloser(afterEach);

/** The authenticator: which principal a credential stands for, and its origin and country rules. */
describe('authenticate', () => {
  it('admits anyone in public mode and refuses missing credentials in token mode', async () => {
    const open = await fixture();
    await expect(open.ac.authenticator.authenticate({ headers: {} })).resolves.toEqual({ kind: 'public' });
    await expect(open.ac.authenticator.authenticate({ headers: bearer('sk-some-client-placeholder') })).resolves.toEqual({ kind: 'public' });
    const closed = await fixture({ mode: 'token' });
    expect(await failure(closed.ac.authenticator.authenticate({ headers: {} }))).toMatchObject({ status: 401, code: 'missing_credentials' });
    expect(await failure(closed.ac.authenticator.authenticate({ headers: bearer('sk-unknown-key-1234567') }))).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });

  it('says why a token is refused (401): malformed, wrong key, expired, revoked', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { ac } = await fixture({ mode: 'token' }, { now: () => now });
    expect(await failure(ac.authenticator.authenticate({ headers: bearer('mg-garbage') }))).toMatchObject({ status: 401, code: 'token_malformed' });
    const foreign = await generateGatewayToken(AdminKey.generate().secret.reveal(), {});
    expect(await failure(ac.authenticator.authenticate({ headers: bearer(foreign) }))).toMatchObject({ status: 401, code: 'token_wrong_gateway' });
    const { token, id } = await ac.tokens.mint({ expiresIn: 60_000 });
    await expect(ac.authenticator.authenticate({ headers: { 'x-api-key': token } })).resolves.toMatchObject({ kind: 'token', id });
    now += 60_000 + 31_000;
    const expired = await failure(ac.authenticator.authenticate({ headers: bearer(token) }));
    expect(expired).toMatchObject({ status: 401, code: 'token_expired' });
    expect(expired.message).toContain('expired');
    now = Date.UTC(2026, 0, 1);
    await ac.tokens.revoke(id);
    expect(await failure(ac.authenticator.authenticate({ headers: bearer(token) }))).toMatchObject({ status: 401, code: 'token_revoked' });
  });

  it('keeps a revocation across a restart', async () => {
    const first = await accessControlFixture({ mode: 'token' });
    const { token, id } = await first.ac.tokens.mint({});
    await first.ac.authenticator.authenticate({ headers: bearer(token) });
    await first.ac.tokens.revoke(id);
    const second = await first.reopen();
    closers.push(second.close);
    expect(second.ac.adminKey.gatewayId).toBe(first.ac.adminKey.gatewayId);
    expect(await failure(second.ac.authenticator.authenticate({ headers: bearer(token) }))).toMatchObject({ status: 401, code: 'token_revoked' });
  });

  it('refuses tokens when the mode does not include them, and accepts the admin key anywhere', async () => {
    const { ac } = await fixture({ mode: 'public' });
    const { token } = await ac.tokens.mint({});
    expect(await failure(ac.authenticator.authenticate({ headers: bearer(token) }))).toMatchObject({ status: 401, code: 'tokens_not_accepted' });
    await expect(ac.authenticator.authenticate({ headers: bearer(ac.adminKey.secret.reveal()) })).resolves.toEqual({ kind: 'admin', id: 'admin' });
    expect(await failure(ac.authenticator.authenticate({ headers: bearer(AdminKey.generate().secret.reveal()) }))).toMatchObject({ code: 'invalid_admin_key' });
  });
});

describe('origin binding', () => {
  const claims = { domains: ['myapp.com', '*.myapp.com'] };

  it('admits the exact host and any subdomain, from Origin or else Referer', async () => {
    const { ac } = await fixture({ mode: 'token' });
    await expect(tokenPrincipal(ac, claims, { origin: 'https://myapp.com' })).resolves.toMatchObject({ kind: 'token' });
    await expect(tokenPrincipal(ac, claims, { origin: 'https://eu.app.myapp.com:8443' })).resolves.toMatchObject({ kind: 'token' });
    await expect(tokenPrincipal(ac, claims, { referer: 'https://www.myapp.com/chat?x=1' })).resolves.toMatchObject({ kind: 'token' });
  });

  it('refuses other origins (403) and requests without any origin', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const other = await failure(tokenPrincipal(ac, claims, { origin: 'https://evil.com' }));
    expect(other).toMatchObject({ status: 403, code: 'origin_not_allowed' });
    expect(other.message).toContain('evil.com');
    expect(await failure(tokenPrincipal(ac, claims, { origin: 'https://myapp.com.evil.com' }))).toMatchObject({ code: 'origin_not_allowed' });
    expect(await failure(tokenPrincipal(ac, claims, { origin: 'https://notmyapp.com' }))).toMatchObject({ code: 'origin_not_allowed' });
    expect(await failure(tokenPrincipal(ac, { domains: ['*.myapp.com'] }, { origin: 'https://myapp.com' }))).toMatchObject({ code: 'origin_not_allowed' });
    expect(await failure(tokenPrincipal(ac, claims, { origin: 'null' }))).toMatchObject({ status: 403, code: 'origin_required' });
    expect(await failure(tokenPrincipal(ac, claims))).toMatchObject({ status: 403, code: 'origin_required' });
  });
});

describe('geo rules with the bundled database, behind trust_proxy', () => {
  async function geoFixture(unknownCountry: 'allow' | 'deny') {
    const made = await fixture({ mode: 'token', unknown_country: unknownCountry }, { trustProxy: true });
    const { token } = await made.ac.tokens.mint({ allowedCountries: ['GB', 'JP'], blockedCountries: ['RU'] });
    const request = (forwardedFor: string) => {
      const headers = { ...bearer(token), 'x-forwarded-for': forwardedFor };
      return made.ac.authenticator.authenticate({ headers, ip: made.ac.authenticator.clientIp({ headers, socketAddress: '127.0.0.1' }) });
    };
    return request;
  }

  it('admits allowed countries and refuses others (403 naming the country)', async () => {
    const request = await geoFixture('allow');
    await expect(request('81.2.69.142')).resolves.toMatchObject({ kind: 'token' }); // GB
    await expect(request('198.51.100.7, 202.12.27.33')).resolves.toMatchObject({ kind: 'token' }); // JP, appended by our proxy
    const us = await failure(request('8.8.8.8'));
    expect(us).toMatchObject({ status: 403, code: 'country_not_allowed', details: { country: 'US' } });
    expect(us.message).toContain('US');
    expect(await failure(request('77.88.8.8'))).toMatchObject({ details: { country: 'RU' } });
    // A spoofed left-most entry does not help: the proxy-appended address (US) decides.
    expect(await failure(request('81.2.69.142, 8.8.8.8'))).toMatchObject({ code: 'country_not_allowed' });
  });

  it('applies auth.unknown_country to addresses the database does not know', async () => {
    await expect((await geoFixture('allow'))('10.1.2.3')).resolves.toMatchObject({ kind: 'token' });
    expect(await failure((await geoFixture('deny'))('10.1.2.3'))).toMatchObject({ status: 403, code: 'country_not_allowed' });
  });

  it('ignores X-Forwarded-For without trust_proxy', async () => {
    const { ac } = await fixture();
    expect(ac.authenticator.clientIp({ headers: { 'x-forwarded-for': '81.2.69.142' }, socketAddress: '::ffff:127.0.0.1' })).toBe('127.0.0.1');
  });
});

describe('auth.geo_db', () => {
  it('reads a MaxMind-format file given in the config, and refuses to start with a path it cannot read', async () => {
    const { ac } = await fixture({ mode: 'public', geo_db: defaultGeoDatabasePath() });
    expect(ac.authenticator.country('81.2.69.142')).toBe('GB');
    await expect(fixture({ mode: 'public', geo_db: '/nonexistent/GeoLite2-Country.mmdb' })).rejects.toThrow(/auth\.geo_db: cannot read the country database \/nonexistent\/GeoLite2-Country\.mmdb: ENOENT/);
  });
});

describe('token ids', () => {
  it('refuses a second token that reuses a known id (jti) with other claims', async () => {
    const { ac } = await fixture({ mode: 'token' });
    await tokenPrincipal(ac, { jti: 'shared-token-id', domains: ['myapp.com'] }, { origin: 'https://myapp.com' });
    const loose = await generateGatewayToken(ac.adminKey.secret.reveal(), { jti: 'shared-token-id' });
    expect(await failure(ac.authenticator.authenticate({ headers: bearer(loose) }))).toMatchObject({ status: 401, code: 'token_reused_id' });
    expect(await failure(ac.tokens.mint({ jti: 'shared-token-id' }))).toMatchObject({ status: 409, code: 'token_id_taken' });
  });
});
