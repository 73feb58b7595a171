import { afterEach, describe, expect, it } from 'vitest';
import { AdminKey } from '../../../src/auth/index.js';
import { accessControlFixture, bearer, failure, fixtureCloser } from './access-control-fixture.js';

const { fixture, closers } = fixtureCloser(afterEach);

/** Token administration (listing, forgetting expired tokens) and the admin guard. */
describe('admin authorisation', () => {
  it('accepts only this gateway admin key', async () => {
    const { ac } = await fixture({ mode: 'token' });
    expect(() => ac.admin.authorize(bearer(ac.adminKey.secret.reveal()))).not.toThrow();
    expect(await failure(() => ac.admin.authorize({}))).toMatchObject({ status: 401, code: 'missing_admin_key' });
    expect(await failure(() => ac.admin.authorize(bearer(AdminKey.generate().secret.reveal())))).toMatchObject({ status: 401, code: 'invalid_admin_key' });
    const { token } = await ac.tokens.mint({});
    expect(await failure(() => ac.admin.authorize(bearer(token)))).toMatchObject({ status: 401 });
  });
});

describe('housekeeping', () => {
  it('forgets tokens a week after they expired, with their lifetime counters', async () => {
    let now = Date.UTC(2026, 0, 1);
    const first = await accessControlFixture({ mode: 'token' }, { now: () => now });
    const { token } = await first.ac.tokens.mint({ expiresIn: 3_600_000, requests: { limit: 5, period: 'lifetime' } });
    const { token: lasting } = await first.ac.tokens.mint({ requests: { limit: 5, period: 'lifetime' } });
    for (const credential of [token, lasting]) await first.ac.quotas.reserve(await first.ac.authenticator.authenticate({ headers: bearer(credential) }), { estimatedTokens: 1 });
    await first.ac.close();
    now += 8 * 86_400_000;
    const second = await first.reopen();
    closers.push(second.close);
    expect((await second.ac.tokens.list()).map((status) => status.expiresAt)).toEqual([null]);
    const counters: string[] = [];
    for await (const key of second.store.sublevel('quota').keys()) counters.push(key);
    expect(counters).toHaveLength(1);
    expect((await second.ac.tokens.list())[0]!.usage.requests).toMatchObject({ used: 1, remaining: 4 });
  });
});

describe('housekeeping while running', () => {
  it('forgets long-expired tokens without a restart', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { ac } = await fixture({ mode: 'token' }, { now: () => now });
    await ac.tokens.mint({ expiresIn: 3_600_000 });
    await ac.tokens.mint({});
    expect(await ac.tokens.prune()).toBe(0);
    now += 8 * 86_400_000;
    expect(await ac.tokens.prune()).toBe(1);
    expect((await ac.tokens.list()).map((status) => status.expiresAt)).toEqual([null]);
  });
});
