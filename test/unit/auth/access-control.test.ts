import { afterEach, describe, expect, it } from 'vitest';
import { AdminKey, generateGatewayToken, keyMapSchema, type AccessControl, type Principal } from '../../../src/auth/index.js';
import { GatewayError } from '../../../src/errors/index.js';
import { defaultGeoDatabasePath } from '../../../src/policy/index.js';
import { accessControlFixture } from './access-control-fixture.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function fixture(...args: Parameters<typeof accessControlFixture>) {
  const made = await accessControlFixture(...args);
  closers.push(made.close);
  return made;
}

async function failure(promise: Promise<unknown> | (() => unknown)): Promise<GatewayError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

const bearer = (credential: string, more: Record<string, string> = {}) => ({ authorization: `Bearer ${credential}`, ...more });

async function tokenPrincipal(ac: AccessControl, claims: Record<string, unknown>, headers: Record<string, string> = {}, ip?: string): Promise<Principal> {
  const { token } = await ac.mintToken(claims);
  return ac.authenticate({ headers: bearer(token, headers), ip });
}

describe('authenticate', () => {
  it('admits anyone in public mode and refuses missing credentials in token mode', async () => {
    const open = await fixture();
    await expect(open.ac.authenticate({ headers: {} })).resolves.toEqual({ kind: 'public' });
    await expect(open.ac.authenticate({ headers: bearer('sk-some-client-placeholder') })).resolves.toEqual({ kind: 'public' });
    const closed = await fixture({ mode: 'token' });
    expect(await failure(closed.ac.authenticate({ headers: {} }))).toMatchObject({ status: 401, code: 'missing_credentials' });
    expect(await failure(closed.ac.authenticate({ headers: bearer('sk-unknown-key-1234567') }))).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });

  it('says why a token is refused (401): malformed, wrong key, expired, revoked', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { ac } = await fixture({ mode: 'token' }, { now: () => now });
    expect(await failure(ac.authenticate({ headers: bearer('mg-garbage') }))).toMatchObject({ status: 401, code: 'token_malformed' });
    const foreign = await generateGatewayToken(AdminKey.generate().secret.reveal(), {});
    expect(await failure(ac.authenticate({ headers: bearer(foreign) }))).toMatchObject({ status: 401, code: 'token_wrong_gateway' });
    const { token, id } = await ac.mintToken({ expiresIn: 60_000 });
    await expect(ac.authenticate({ headers: { 'x-api-key': token } })).resolves.toMatchObject({ kind: 'token', id });
    now += 60_000 + 31_000;
    const expired = await failure(ac.authenticate({ headers: bearer(token) }));
    expect(expired).toMatchObject({ status: 401, code: 'token_expired' });
    expect(expired.message).toContain('expired');
    now = Date.UTC(2026, 0, 1);
    await ac.revokeToken(id);
    expect(await failure(ac.authenticate({ headers: bearer(token) }))).toMatchObject({ status: 401, code: 'token_revoked' });
  });

  it('keeps a revocation across a restart', async () => {
    const first = await accessControlFixture({ mode: 'token' });
    const { token, id } = await first.ac.mintToken({});
    await first.ac.authenticate({ headers: bearer(token) });
    await first.ac.revokeToken(id);
    const second = await first.reopen();
    closers.push(second.close);
    expect(second.ac.adminKey.gatewayId).toBe(first.ac.adminKey.gatewayId);
    expect(await failure(second.ac.authenticate({ headers: bearer(token) }))).toMatchObject({ status: 401, code: 'token_revoked' });
  });

  it('refuses tokens when the mode does not include them, and accepts the admin key anywhere', async () => {
    const { ac } = await fixture({ mode: 'public' });
    const { token } = await ac.mintToken({});
    expect(await failure(ac.authenticate({ headers: bearer(token) }))).toMatchObject({ status: 401, code: 'tokens_not_accepted' });
    await expect(ac.authenticate({ headers: bearer(ac.adminKey.secret.reveal()) })).resolves.toEqual({ kind: 'admin', id: 'admin' });
    expect(await failure(ac.authenticate({ headers: bearer(AdminKey.generate().secret.reveal()) }))).toMatchObject({ code: 'invalid_admin_key' });
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

  it('answers CORS preflight only for origins some live credential allows', async () => {
    const { ac } = await fixture({ mode: 'token', cors_origins: ['admin.example'] });
    expect(ac.corsHeaders('https://myapp.com')).toBeUndefined();
    const { id } = await ac.mintToken(claims);
    expect(ac.corsHeaders('https://www.myapp.com', undefined, 'authorization, x-stainless-os')).toMatchObject({
      'access-control-allow-origin': 'https://www.myapp.com',
      'access-control-allow-headers': 'authorization, x-stainless-os',
      vary: 'Origin',
    });
    expect(ac.corsHeaders('https://admin.example')).toBeDefined();
    expect(ac.corsHeaders('https://evil.com')).toBeUndefined();
    await ac.revokeToken(id);
    expect(ac.corsHeaders('https://www.myapp.com')).toBeUndefined();
  });

  it('adds CORS headers to a response only when the principal allows the origin', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, claims, { origin: 'https://myapp.com' });
    expect(ac.corsHeaders('https://myapp.com', principal)?.['access-control-expose-headers']).toContain('x-ratelimit-remaining');
    expect(ac.corsHeaders('https://evil.com', principal)).toBeUndefined();
  });
});

describe('geo rules with the bundled database, behind trust_proxy', () => {
  async function geoFixture(unknownCountry: 'allow' | 'deny') {
    const made = await fixture({ mode: 'token', unknown_country: unknownCountry }, { trustProxy: true });
    const { token } = await made.ac.mintToken({ allowedCountries: ['GB', 'JP'], blockedCountries: ['RU'] });
    const request = (forwardedFor: string) => {
      const headers = { ...bearer(token), 'x-forwarded-for': forwardedFor };
      return made.ac.authenticate({ headers, ip: made.ac.clientIp({ headers, socketAddress: '127.0.0.1' }) });
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
    expect(ac.clientIp({ headers: { 'x-forwarded-for': '81.2.69.142' }, socketAddress: '::ffff:127.0.0.1' })).toBe('127.0.0.1');
  });
});

describe('models', () => {
  it('refuses models outside the allowlist (403 naming the model)', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { models: ['gpt-4o-mini', 'claude-*'] });
    expect(() => ac.checkModel(principal, 'gpt-4o-mini')).not.toThrow();
    expect(() => ac.checkModel(principal, 'claude-sonnet-4')).not.toThrow();
    const err = await failure(() => ac.checkModel(principal, 'gpt-4o'));
    expect(err).toMatchObject({ status: 403, code: 'model_not_allowed' });
    expect(err.message).toContain('gpt-4o');
    expect(await failure(ac.reserve(principal, { model: 'o3', estimatedTokens: 1 }))).toMatchObject({ code: 'model_not_allowed' });
  });
});

describe('quotas through AccessControl', () => {
  it('admits exactly 10 of 50 parallel requests and names the limit in the 429', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { requests: { limit: 10, period: 'day' } });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => ac.reserve(principal, { estimatedTokens: 10 })));
    const admitted = results.filter((r) => r.status === 'fulfilled');
    expect(admitted).toHaveLength(10);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as GatewayError);
    expect(refused).toHaveLength(40);
    expect(refused[0]).toMatchObject({ status: 429, code: 'requests_limit_exceeded' });
    expect(refused[0]!.headers).toMatchObject({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0', 'x-ratelimit-scope': 'requests' });
    expect(Number(refused[0]!.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('shows remaining quota on success and keeps it across a restart', async () => {
    const first = await accessControlFixture({ mode: 'token' });
    const { token } = await first.ac.mintToken({ requests: { limit: 3, period: 'month' } });
    const principal = await first.ac.authenticate({ headers: bearer(token) });
    const held = await first.ac.reserve(principal, { estimatedTokens: 5 });
    expect(held.headers).toMatchObject({ 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '2' });
    await held.settle({ tokens: 5 });
    await (await first.ac.reserve(principal, { estimatedTokens: 5 })).settle({ tokens: 5 });
    const second = await first.reopen();
    closers.push(second.close);
    const again = await second.ac.authenticate({ headers: bearer(token) });
    await second.ac.reserve(again, { estimatedTokens: 5 });
    expect(await failure(second.ac.reserve(again, { estimatedTokens: 5 }))).toMatchObject({ status: 429 });
  });

  it('counts per-IP quotas per visitor address', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { ipQuota: { limit: 2, period: 'hour' } });
    for (const ip of ['81.2.69.142', '81.2.69.142', '8.8.8.8', '8.8.8.8']) await ac.reserve(principal, { ip, estimatedTokens: 1 });
    const err = await failure(ac.reserve(principal, { ip: '81.2.69.142', estimatedTokens: 1 }));
    expect(err).toMatchObject({ status: 429, code: 'ip_limit_exceeded' });
    await expect(ac.reserve(principal, { ip: '1.1.1.1', estimatedTokens: 1 })).resolves.toBeDefined();
  });

  it('applies public_limits per IP in public mode', async () => {
    const { ac } = await fixture({ mode: 'public', public_limits: { ip_quota: { limit: 1, period: 'day' } } });
    const principal = await ac.authenticate({ headers: {} });
    await ac.reserve(principal, { ip: '8.8.8.8', estimatedTokens: 1 });
    expect(await failure(ac.reserve(principal, { ip: '8.8.8.8', estimatedTokens: 1 }))).toMatchObject({ status: 429, code: 'ip_limit_exceeded' });
  });

  it('holds a cost limit within the in-flight bound and releases failed requests', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { cost: { limit: 0.01 } }); // 10,000 micro-dollars
    const failed = await ac.reserve(principal, { estimatedTokens: 100, estimatedCostMicros: 10_000 });
    expect(await failure(ac.reserve(principal, { estimatedTokens: 100, estimatedCostMicros: 1 }))).toMatchObject({ code: 'cost_limit_exceeded' });
    await failed.release();
    const inFlight = await Promise.all([1, 2, 3, 4].map(() => ac.reserve(principal, { estimatedTokens: 100, estimatedCostMicros: 2_500 })));
    expect(inFlight[3]!.headers['x-ratelimit-remaining-cost']).toBe('0');
    await Promise.all(inFlight.map((held) => held.settle({ tokens: 120, costMicros: 3_000 })));
    const [status] = await ac.listTokens();
    // Bound: limit + Σ(actual − estimate) over the 4 requests in flight = 0.01 + 4 × 0.0005.
    expect(status!.usage.cost).toMatchObject({ limit: 0.01, used: 0.012 });
    expect(status!.usage.cost!.used).toBeLessThanOrEqual(0.01 + 4 * 0.0005);
    expect(await failure(ac.reserve(principal, { estimatedTokens: 1, estimatedCostMicros: 0 }))).toMatchObject({ code: 'cost_limit_exceeded' });
  });
});

describe('virtual keys', () => {
  const keyMap = {
    'team-a-client-key-0001': { label: 'Team A', providers: { openai: 'sk-openai-team-a' }, requests: { limit: 1, period: 'day' }, models: ['gpt-*'] },
    teamb: { key: 'team-b-client-key-0002', label: 'Team B', providers: { anthropic: 'sk-ant-team-b' } },
  };

  it('selects provider keys by the client key and applies its limits', async () => {
    const { ac } = await fixture({ mode: ['key', 'token'] }, { keyMap });
    const a = await ac.authenticate({ headers: bearer('team-a-client-key-0001') });
    expect(a).toMatchObject({ kind: 'virtual_key', label: 'Team A' });
    expect(a.id).toMatch(/^vk_[0-9a-f]{12}$/);
    expect(ac.providerKey(a, 'openai')?.reveal()).toBe('sk-openai-team-a');
    expect(ac.providerKey(a, 'anthropic')).toBeUndefined();
    const b = await ac.authenticate({ headers: { 'x-api-key': 'team-b-client-key-0002' } });
    expect(ac.providerKey(b, 'anthropic')?.reveal()).toBe('sk-ant-team-b');
    expect(() => ac.checkModel(a, 'claude-3')).toThrow(GatewayError);
    await ac.reserve(a, { estimatedTokens: 1 });
    expect(await failure(ac.reserve(a, { estimatedTokens: 1 }))).toMatchObject({ status: 429 });
    await expect(ac.reserve(b, { estimatedTokens: 1 })).resolves.toBeDefined();
    expect(await failure(ac.authenticate({ headers: bearer('team-c-client-key-0003') }))).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });

  it('keeps client and provider keys out of the parsed config', async () => {
    const parsed = keyMapSchema.parse(keyMap);
    expect(JSON.stringify(parsed)).not.toMatch(/client-key|sk-openai|sk-ant/);
    expect(() => keyMapSchema.parse({ short: { label: 'x' } })).toThrow(/at least 16/);
  });
});

describe('admin authorisation', () => {
  it('accepts only this gateway admin key', async () => {
    const { ac } = await fixture({ mode: 'token' });
    expect(() => ac.authorizeAdmin(bearer(ac.adminKey.secret.reveal()))).not.toThrow();
    expect(await failure(() => ac.authorizeAdmin({}))).toMatchObject({ status: 401, code: 'missing_admin_key' });
    expect(await failure(() => ac.authorizeAdmin(bearer(AdminKey.generate().secret.reveal())))).toMatchObject({ status: 401, code: 'invalid_admin_key' });
    const { token } = await ac.mintToken({});
    expect(await failure(() => ac.authorizeAdmin(bearer(token)))).toMatchObject({ status: 401 });
  });
});

describe('principals as the pipeline carries them ({ kind, id })', () => {
  it('finds a token rules by id, and refuses ids it does not know', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { requests: { limit: 1, period: 'day' }, models: ['m1'] });
    const ref = { kind: principal.kind, id: principal.id };
    expect(() => ac.checkModel(ref, 'm2')).toThrow(GatewayError);
    await ac.reserve(ref, { estimatedTokens: 1 });
    expect(await failure(ac.reserve(ref, { estimatedTokens: 1 }))).toMatchObject({ status: 429 });
    expect(await failure(ac.reserve({ kind: 'token', id: 'never-seen-token' }, { estimatedTokens: 1 }))).toMatchObject({ status: 401, code: 'token_unknown' });
    expect(await failure(ac.reserve({ kind: 'virtual_key', id: 'vk_000000000000' }, { estimatedTokens: 1 }))).toMatchObject({ status: 401 });
    await expect(ac.reserve({ kind: 'peer', id: '12D3KooW' }, { estimatedTokens: 1 })).resolves.toMatchObject({ headers: {} });
  });

  it('refuses a second token that reuses a known id (jti) with other claims', async () => {
    const { ac } = await fixture({ mode: 'token' });
    await tokenPrincipal(ac, { jti: 'shared-token-id', domains: ['myapp.com'] }, { origin: 'https://myapp.com' });
    const loose = await generateGatewayToken(ac.adminKey.secret.reveal(), { jti: 'shared-token-id' });
    expect(await failure(ac.authenticate({ headers: bearer(loose) }))).toMatchObject({ status: 401, code: 'token_reused_id' });
    expect(await failure(ac.mintToken({ jti: 'shared-token-id' }))).toMatchObject({ status: 409, code: 'token_id_taken' });
  });
});

describe('housekeeping', () => {
  it('forgets tokens a week after they expired, with their lifetime counters', async () => {
    let now = Date.UTC(2026, 0, 1);
    const first = await accessControlFixture({ mode: 'token' }, { now: () => now });
    const { token } = await first.ac.mintToken({ expiresIn: 3_600_000, requests: { limit: 5, period: 'lifetime' } });
    const { token: lasting } = await first.ac.mintToken({ requests: { limit: 5, period: 'lifetime' } });
    for (const credential of [token, lasting]) await first.ac.reserve(await first.ac.authenticate({ headers: bearer(credential) }), { estimatedTokens: 1 });
    await first.ac.close();
    now += 8 * 86_400_000;
    const second = await first.reopen();
    closers.push(second.close);
    expect((await second.ac.listTokens()).map((status) => status.expiresAt)).toEqual([null]);
    const counters: string[] = [];
    for await (const key of second.store.sublevel('quota').keys()) counters.push(key);
    expect(counters).toHaveLength(1);
    expect((await second.ac.listTokens())[0]!.usage.requests).toMatchObject({ used: 1, remaining: 4 });
  });
});

describe('auth.geo_db', () => {
  it('reads a MaxMind-format file given in the config, and refuses to start with a path it cannot read', async () => {
    const { ac } = await fixture({ mode: 'public', geo_db: defaultGeoDatabasePath() });
    expect(ac.country('81.2.69.142')).toBe('GB');
    await expect(fixture({ mode: 'public', geo_db: '/nonexistent/GeoLite2-Country.mmdb' })).rejects.toThrow(/auth\.geo_db: cannot read the country database \/nonexistent\/GeoLite2-Country\.mmdb: ENOENT/);
  });
});

describe('housekeeping while running', () => {
  it('forgets long-expired tokens without a restart', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { ac } = await fixture({ mode: 'token' }, { now: () => now });
    await ac.mintToken({ expiresIn: 3_600_000 });
    await ac.mintToken({});
    expect(await ac.pruneTokens()).toBe(0);
    now += 8 * 86_400_000;
    expect(await ac.pruneTokens()).toBe(1);
    expect((await ac.listTokens()).map((status) => status.expiresAt)).toEqual([null]);
  });
});

describe('CORS for principals whose rules are gone', () => {
  it('sends no CORS headers instead of throwing', async () => {
    const { ac } = await fixture({ mode: 'token' });
    expect(ac.corsHeaders('https://myapp.com', { kind: 'token', id: 'unknown-token-id' })).toBeUndefined();
  });
});
