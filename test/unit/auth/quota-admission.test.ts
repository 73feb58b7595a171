import { afterEach, describe, expect, it } from 'vitest';
import { keyMapSchema } from '../../../src/auth/index.js';
import { GatewayError } from '../../../src/errors/index.js';
import { accessControlFixture, bearer, failure, fixtureCloser, tokenPrincipal } from './access-control-fixture.js';

const { fixture, closers } = fixtureCloser(afterEach);

/** Model permissions and quota admission: reserved before the upstream call, settled after, kept across restarts. */
describe('models', () => {
  it('refuses models outside the allowlist (403 naming the model)', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { models: ['gpt-4o-mini', 'claude-*'] });
    expect(() => ac.models.check(principal, 'gpt-4o-mini')).not.toThrow();
    expect(() => ac.models.check(principal, 'claude-sonnet-4')).not.toThrow();
    const err = await failure(() => ac.models.check(principal, 'gpt-4o'));
    expect(err).toMatchObject({ status: 403, code: 'model_not_allowed' });
    expect(err.message).toContain('gpt-4o');
    expect(await failure(ac.quotas.reserve(principal, { model: 'o3', estimatedTokens: 1 }))).toMatchObject({ code: 'model_not_allowed' });
  });
});

describe('quota admission', () => {
  it('admits exactly 10 of 50 parallel requests and names the limit in the 429', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { requests: { limit: 10, period: 'day' } });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => ac.quotas.reserve(principal, { estimatedTokens: 10 })));
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
    const { token } = await first.ac.tokens.mint({ requests: { limit: 3, period: 'month' } });
    const principal = await first.ac.authenticator.authenticate({ headers: bearer(token) });
    const held = await first.ac.quotas.reserve(principal, { estimatedTokens: 5 });
    expect(held.headers).toMatchObject({ 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '2' });
    await held.settle({ tokens: 5 });
    await (await first.ac.quotas.reserve(principal, { estimatedTokens: 5 })).settle({ tokens: 5 });
    const second = await first.reopen();
    closers.push(second.close);
    const again = await second.ac.authenticator.authenticate({ headers: bearer(token) });
    await second.ac.quotas.reserve(again, { estimatedTokens: 5 });
    expect(await failure(second.ac.quotas.reserve(again, { estimatedTokens: 5 }))).toMatchObject({ status: 429 });
  });

  it('counts per-IP quotas per visitor address', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { ipQuota: { limit: 2, period: 'hour' } });
    for (const ip of ['81.2.69.142', '81.2.69.142', '8.8.8.8', '8.8.8.8']) await ac.quotas.reserve(principal, { ip, estimatedTokens: 1 });
    const err = await failure(ac.quotas.reserve(principal, { ip: '81.2.69.142', estimatedTokens: 1 }));
    expect(err).toMatchObject({ status: 429, code: 'ip_limit_exceeded' });
    await expect(ac.quotas.reserve(principal, { ip: '1.1.1.1', estimatedTokens: 1 })).resolves.toBeDefined();
  });

  it('applies public_limits per IP in public mode', async () => {
    const { ac } = await fixture({ mode: 'public', public_limits: { ip_quota: { limit: 1, period: 'day' } } });
    const principal = await ac.authenticator.authenticate({ headers: {} });
    await ac.quotas.reserve(principal, { ip: '8.8.8.8', estimatedTokens: 1 });
    expect(await failure(ac.quotas.reserve(principal, { ip: '8.8.8.8', estimatedTokens: 1 }))).toMatchObject({ status: 429, code: 'ip_limit_exceeded' });
  });

  it('holds a cost limit within the in-flight bound and releases failed requests', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { cost: { limit: 0.01 } }); // 10,000 micro-dollars
    const failed = await ac.quotas.reserve(principal, { estimatedTokens: 100, estimatedCostMicros: 10_000 });
    expect(await failure(ac.quotas.reserve(principal, { estimatedTokens: 100, estimatedCostMicros: 1 }))).toMatchObject({ code: 'cost_limit_exceeded' });
    await failed.release();
    const inFlight = await Promise.all([1, 2, 3, 4].map(() => ac.quotas.reserve(principal, { estimatedTokens: 100, estimatedCostMicros: 2_500 })));
    expect(inFlight[3]!.headers['x-ratelimit-remaining-cost']).toBe('0');
    await Promise.all(inFlight.map((held) => held.settle({ tokens: 120, costMicros: 3_000 })));
    const [status] = await ac.tokens.list();
    // Bound: limit + Σ(actual − estimate) over the 4 requests in flight = 0.01 + 4 × 0.0005.
    expect(status!.usage.cost).toMatchObject({ limit: 0.01, used: 0.012 });
    expect(status!.usage.cost!.used).toBeLessThanOrEqual(0.01 + 4 * 0.0005);
    expect(await failure(ac.quotas.reserve(principal, { estimatedTokens: 1, estimatedCostMicros: 0 }))).toMatchObject({ code: 'cost_limit_exceeded' });
  });
});

describe('virtual keys', () => {
  const keyMap = {
    'team-a-client-key-0001': { label: 'Team A', providers: { openai: 'sk-openai-team-a' }, requests: { limit: 1, period: 'day' }, models: ['gpt-*'] },
    teamb: { key: 'team-b-client-key-0002', label: 'Team B', providers: { anthropic: 'sk-ant-team-b' } },
  };

  it('selects provider keys by the client key and applies its limits', async () => {
    const { ac } = await fixture({ mode: ['key', 'token'] }, { keyMap });
    const a = await ac.authenticator.authenticate({ headers: bearer('team-a-client-key-0001') });
    expect(a).toMatchObject({ kind: 'virtual_key', label: 'Team A' });
    expect(a.id).toMatch(/^vk_[0-9a-f]{12}$/);
    expect(ac.virtualKeys.providerKey(a, 'openai')?.reveal()).toBe('sk-openai-team-a');
    expect(ac.virtualKeys.providerKey(a, 'anthropic')).toBeUndefined();
    const b = await ac.authenticator.authenticate({ headers: { 'x-api-key': 'team-b-client-key-0002' } });
    expect(ac.virtualKeys.providerKey(b, 'anthropic')?.reveal()).toBe('sk-ant-team-b');
    expect(() => ac.models.check(a, 'claude-3')).toThrow(GatewayError);
    await ac.quotas.reserve(a, { estimatedTokens: 1 });
    expect(await failure(ac.quotas.reserve(a, { estimatedTokens: 1 }))).toMatchObject({ status: 429 });
    await expect(ac.quotas.reserve(b, { estimatedTokens: 1 })).resolves.toBeDefined();
    expect(await failure(ac.authenticator.authenticate({ headers: bearer('team-c-client-key-0003') }))).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });

  it('keeps client and provider keys out of the parsed config', async () => {
    const parsed = keyMapSchema.parse(keyMap);
    expect(JSON.stringify(parsed)).not.toMatch(/client-key|sk-openai|sk-ant/);
    expect(() => keyMapSchema.parse({ short: { label: 'x' } })).toThrow(/at least 16/);
  });
});

describe('principals as the pipeline carries them ({ kind, id })', () => {
  it('finds a token rules by id, and refuses ids it does not know', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { requests: { limit: 1, period: 'day' }, models: ['m1'] });
    const ref = { kind: principal.kind, id: principal.id };
    expect(() => ac.models.check(ref, 'm2')).toThrow(GatewayError);
    await ac.quotas.reserve(ref, { estimatedTokens: 1 });
    expect(await failure(ac.quotas.reserve(ref, { estimatedTokens: 1 }))).toMatchObject({ status: 429 });
    expect(await failure(ac.quotas.reserve({ kind: 'token', id: 'never-seen-token' }, { estimatedTokens: 1 }))).toMatchObject({ status: 401, code: 'token_unknown' });
    expect(await failure(ac.quotas.reserve({ kind: 'virtual_key', id: 'vk_000000000000' }, { estimatedTokens: 1 }))).toMatchObject({ status: 401 });
    await expect(ac.quotas.reserve({ kind: 'peer', id: '12D3KooW' }, { estimatedTokens: 1 })).resolves.toMatchObject({ headers: {} });
  });
});
