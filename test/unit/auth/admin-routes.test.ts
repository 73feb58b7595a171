import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { adminRoutes, generateGatewayToken, type AccessControl, type TokenStatus } from '../../../src/auth/index.js';
import { errorBody, toGatewayError } from '../../../src/errors/index.js';
import { accessControlFixture } from './access-control-fixture.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function adminApp(ac: AccessControl): Promise<FastifyInstance> {
  const app = Fastify();
  // The same mapping the HTTP app's error handler does.
  app.setErrorHandler((err, _request, reply) => {
    const error = toGatewayError(err);
    void reply.code(error.status).headers(error.headers).send(errorBody('openai', error));
  });
  await app.register(adminRoutes(ac.tokens, ac.admin));
  closers.push(() => app.close());
  return app;
}

async function setup() {
  const fixture = await accessControlFixture({ mode: 'token' });
  closers.push(fixture.close);
  const app = await adminApp(fixture.ac);
  const auth = { authorization: `Bearer ${fixture.ac.adminKey.secret.reveal()}` };
  return { ...fixture, app, auth };
}

describe('admin token routes', () => {
  it('refuses requests without the admin key (401) on every route', async () => {
    const { app, ac } = await setup();
    const { token } = await ac.tokens.mint({});
    for (const [method, url] of [['POST', '/v1/admin/tokens'], ['GET', '/v1/admin/tokens'], ['DELETE', '/v1/admin/tokens/abcdefgh']] as const) {
      const none = await app.inject({ method, url, payload: method === 'POST' ? {} : undefined });
      expect(none.statusCode, `${method} ${url}`).toBe(401);
      const withToken = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
      expect(withToken.statusCode, `${method} ${url}`).toBe(401);
    }
  });

  it('mints, lists with usage (never the token), and revokes', async () => {
    const { app, ac, auth } = await setup();
    const created = await app.inject({
      method: 'POST', url: '/v1/admin/tokens', headers: auth,
      payload: { domains: ['myapp.com'], requests: { limit: 5, period: 'day' }, cost: { limit: 2 }, expiresIn: 86_400_000, sub: 'landing page' },
    });
    expect(created.statusCode).toBe(201);
    const { token, id, expiresAt } = created.json() as { token: string; id: string; expiresAt: number };
    expect(token).toMatch(/^mg-[0-9a-f]{16}\./);
    expect(expiresAt).toBeGreaterThan(Date.now());

    const principal = await ac.authenticator.authenticate({ headers: { authorization: `Bearer ${token}`, origin: 'https://myapp.com' } });
    await (await ac.quotas.reserve(principal, { estimatedTokens: 10, estimatedCostMicros: 1_500 })).settle({ tokens: 12, costMicros: 1_250 });

    const listed = await app.inject({ method: 'GET', url: '/v1/admin/tokens', headers: auth });
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain(token.split('.').at(-1)!);
    const [status] = (listed.json() as { data: TokenStatus[] }).data;
    expect(status).toMatchObject({
      id, sub: 'landing page', source: 'admin_api', revokedAt: null, expired: false,
      claims: { domains: ['myapp.com'], requests: { limit: 5, period: 'day' } },
      usage: { requests: { limit: 5, used: 1, remaining: 4, period: 'day' }, cost: { limit: 2, used: 0.00125, resetAt: null } },
    });
    expect(status!.usage.requests!.resetAt).toBeGreaterThan(Date.now());

    const one = await app.inject({ method: 'GET', url: `/v1/admin/tokens/${id}`, headers: auth });
    expect(one.json()).toMatchObject({ id });

    const revoked = await app.inject({ method: 'DELETE', url: `/v1/admin/tokens/${id}`, headers: auth });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ id, revoked: true });
    await expect(ac.authenticator.authenticate({ headers: { authorization: `Bearer ${token}`, origin: 'https://myapp.com' } })).rejects.toMatchObject({ status: 401, code: 'token_revoked' });
  });

  it('answers bad claims with a 400 that names them', async () => {
    const { app, auth } = await setup();
    const response = await app.inject({ method: 'POST', url: '/v1/admin/tokens', headers: auth, payload: { requests: { limit: 0, period: 'week' }, domains: ['https://x.com'] } });
    expect(response.statusCode).toBe(400);
    const { error } = response.json() as { error: { message: string; code: string } };
    expect(error.code).toBe('invalid_claims');
    expect(error.message).toMatch(/requests\.limit/);
    expect(error.message).toMatch(/requests\.period/);
    expect(error.message).toMatch(/domains\.0/);
    const notObject = await app.inject({ method: 'POST', url: '/v1/admin/tokens', headers: auth, payload: [1, 2] });
    expect(notObject.statusCode).toBe(400);
  });

  it('revokes a token minted offline before it was ever seen, and that survives a restart', async () => {
    const { app, auth, reopen, ac } = await setup();
    const offline = await generateGatewayToken(ac.adminKey.secret.reveal(), { jti: 'offline-token-1' });
    const revoked = await app.inject({ method: 'DELETE', url: '/v1/admin/tokens/offline-token-1', headers: auth });
    expect(revoked.json()).toMatchObject({ id: 'offline-token-1', source: 'revoked_by_id', revoked: true });
    await app.close();
    const restarted = await reopen();
    closers.push(restarted.close);
    await expect(restarted.ac.authenticator.authenticate({ headers: { authorization: `Bearer ${offline}` } })).rejects.toMatchObject({ code: 'token_revoked' });
    const missing = await (await adminApp(restarted.ac)).inject({ method: 'GET', url: '/v1/admin/tokens/never-heard-of', headers: auth });
    expect(missing.statusCode).toBe(404);
  });

  it('validates the id in the path', async () => {
    const { app, auth } = await setup();
    const response = await app.inject({ method: 'DELETE', url: '/v1/admin/tokens/a%20b', headers: auth });
    expect(response.statusCode).toBe(400);
  });
});
