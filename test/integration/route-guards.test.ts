import type { FastifyPluginAsync } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { unauthorized } from '../../src/errors/index.js';
import { buildApp } from '../../src/http/app.js';
import { generateGatewayToken } from '../../src/index.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { ModelCatalog } from '../../src/router/model-catalog.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Every route of a real node — with every plugin registered: client API, admin, records, ledger, mesh, metrics — sits
 * behind the guard it is meant to (the Portkey lesson: one route registered outside the validating middleware is a
 * bypass). The table below says which guard each route must have; a route the node registers that is not in it
 * fails the test, so a new route is classified on purpose, and each one is asked without a credential, with a
 * client token and with the admin key to show which guard actually answers.
 */
type Guard = 'client' | 'admin' | 'open';
const EXPECTED: Record<string, Guard> = {
  'GET /health': 'open',
  'GET /metrics': 'open',
  'GET /openapi.json': 'open',
  'GET /docs': 'open',
  'GET /docs/:asset': 'open',
  // The portal's files: code only; every call the pages make goes to an admin route.
  'GET /': 'open',
  'GET /portal/*': 'open',
  'POST /v1/chat/completions': 'client',
  'POST /v1/embeddings': 'client',
  'POST /v1/messages': 'client',
  'POST /v1/messages/count_tokens': 'client',
  'POST /v1beta/models/:modelAction': 'client',
  'POST /v1/models/:modelAction': 'client',
  'POST /openai/v1/chat/completions': 'client',
  'POST /openai/chat/completions': 'client',
  'POST /openai/deployments/:deployment/chat/completions': 'client',
  'POST /openai/v1/embeddings': 'client',
  'POST /openai/embeddings': 'client',
  'POST /openai/deployments/:deployment/embeddings': 'client',
  'GET /openai/v1/models': 'client',
  'GET /openai/v1/models/*': 'client',
  ...Object.fromEntries(['/v1/responses', '/openai/v1/responses', '/openai/responses'].flatMap((base) => [
    [`POST ${base}`, 'client'], [`POST ${base}/input_tokens`, 'client'], [`GET ${base}/:id`, 'client'], [`DELETE ${base}/:id`, 'client'], [`GET ${base}/:id/input_items`, 'client'],
  ])),
  'POST /openai/deployments/:deployment/responses': 'client',
  'GET /v1/providers': 'client',
  'POST /v1/providers': 'admin',
  'GET /v1/providers/:id': 'admin',
  'PATCH /v1/providers/:id': 'admin',
  'DELETE /v1/providers/:id': 'admin',
  'POST /v1/admin/reload': 'admin',
  'GET /v1/models': 'client',
  'GET /v1/models/*': 'client',
  'GET /v1beta/models': 'client',
  'GET /v1beta/models/:model': 'client',
  'GET /v1/mesh': 'client',
  'POST /v1/signals': 'client',
  'GET /v1/signals': 'client',
  'GET /v1/signals/summary': 'admin',
  'POST /v1/admin/tokens': 'admin',
  'GET /v1/admin/tokens': 'admin',
  'GET /v1/admin/keys': 'admin',
  'GET /v1/admin/tokens/:id': 'admin',
  'DELETE /v1/admin/tokens/:id': 'admin',
  'POST /v1/routing/explain': 'admin',
  'GET /v1/routing/signals': 'admin',
  'GET /v1/stats': 'admin',
  'GET /v1/records': 'admin',
  'GET /v1/records/export': 'admin',
  'GET /v1/projects': 'admin',
  'GET /v1/projects/:id/records': 'admin',
  'GET /v1/usage/overview': 'admin',
  'GET /v1/mesh/ledger': 'admin',
  'POST /v1/mesh/reconcile': 'admin',
  'GET /v1/mesh/receipts': 'admin',
  'GET /v1/mesh/federation': 'admin',
  'POST /v1/query': 'admin',
  'POST /v1/ask': 'admin',
};

/**
 * How each guard refuses a request without any credential, by its message (the one field every client format's error
 * body carries: the Anthropic and Gemini shapes have no room for our code).
 */
const REFUSAL: Record<Exclude<Guard, 'open'>, { code: string; message: RegExp }> = {
  client: { code: 'missing_credentials', message: /^Missing credentials/ },
  admin: { code: 'missing_admin_key', message: /^The admin API needs/ },
};

interface Route { method: string; url: string }
interface Answer { status: number; message?: string }

/** Asks `route` on `base` with `credential` (if any): status and error code. */
async function ask(base: string, route: Route, credential?: string): Promise<Answer> {
  const path = route.url.replace(':modelAction', 'gpt-4o:generateContent').replace(':asset', 'docs-init.js').replace('/portal/*', '/portal/app.js').replace(/:(\w+)/g, 'x');
  const hasBody = route.method !== 'GET' && route.method !== 'DELETE';
  const res = await fetch(`${base}${path}`, {
    method: route.method,
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...(credential ? { authorization: `Bearer ${credential}` } : {}) },
    body: hasBody ? '{}' : undefined,
  });
  const text = await res.text();
  let message: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // not JSON (metrics text): no message
  }
  return { status: res.status, message };
}

/** Routes whose answer without a credential is not their guard's refusal (empty when every guard holds). */
async function unguarded(base: string, routes: Route[], expected: Record<string, Guard>): Promise<string[]> {
  const problems: string[] = [];
  for (const route of routes) {
    const key = `${route.method} ${route.url}`;
    const guard = expected[key];
    if (guard === undefined) {
      problems.push(`${key}: not in the guard table (classify it: client, admin or open)`);
      continue;
    }
    const answer = await ask(base, route);
    if (guard === 'open' ? answer.status >= 400 : answer.status !== 401 || !REFUSAL[guard].message.test(answer.message ?? '')) {
      problems.push(`${key}: expected ${guard === 'open' ? 'an answer' : `401 ${REFUSAL[guard].code}`}, got ${answer.status} ${answer.message ?? ''}`.trim());
    }
  }
  return problems;
}

let mock: MockUpstream;
let node: TestGateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  node = await startTestGateway([mockProviders(mock).openai], {
    auth: { mode: ['token'] },
    mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'] },
  });
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

describe('route guards on a real node with every plugin', () => {
  it('registers exactly the routes of the guard table', () => {
    const registered = node.gateway.app.registeredRoutes.map((r) => `${r.method} ${r.url}`);
    expect(new Set(registered)).toEqual(new Set(Object.keys(EXPECTED)));
  });

  it('answers every route without a credential with its own guard\'s refusal', async () => {
    expect(await unguarded(node.url, node.gateway.app.registeredRoutes, EXPECTED)).toEqual([]);
  });

  it('a client token passes the client guard only; the admin key passes the admin guard', async () => {
    const adminKey = node.gateway.access.adminKey.secret.reveal();
    const token = await generateGatewayToken(adminKey, { jti: 'route-guards-1', expiresIn: 600_000 });
    for (const route of node.gateway.app.registeredRoutes) {
      const guard = EXPECTED[`${route.method} ${route.url}`];
      if (guard === 'open') continue;
      const withToken = await ask(node.url, route, token);
      const withAdminKey = await ask(node.url, route, adminKey);
      const key = `${route.method} ${route.url}`;
      if (guard === 'client') {
        expect([401, 403], `${key} with a client token answered ${withToken.status} ${withToken.message}`).not.toContain(withToken.status);
      } else {
        expect(withToken, `${key} with a client token`).toMatchObject({ status: 401, message: 'The admin key is not valid for this gateway.' });
        expect([401, 403], `${key} with the admin key answered ${withAdminKey.status} ${withAdminKey.message}`).not.toContain(withAdminKey.status);
      }
    }
  });

  it('the check finds a route registered outside its guard', async () => {
    // The same check on an app where a records-like route sneaks in through the open plugins: it must be reported.
    const config = parseConfig({}, 'test', {});
    const logger = pino({ level: 'silent' });
    const catalog = new ModelCatalog([]);
    const leak: FastifyPluginAsync = async (app) => {
      app.get('/v1/records/leak', async () => ({ data: ['every record'] }));
    };
    const app = await buildApp({
      config, logger, pipeline: new Pipeline({ config, catalog, breakers: new Map(), logger }),
      info: { catalog, breakers: new Map(), startedAt: Date.now() },
      authenticate: async () => { throw unauthorized('Missing credentials.', 'missing_credentials'); },
      authorizeAdmin: async () => { throw unauthorized('The admin API needs the admin key.', 'missing_admin_key'); },
      openPlugins: [leak],
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const problems = await unguarded(base, app.registeredRoutes, { ...EXPECTED, 'GET /v1/records/leak': 'admin' });
      expect(problems).toEqual(['GET /v1/records/leak: expected 401 missing_admin_key, got 200']);
      // And the stand-in guards themselves hold for every route this app has besides the leak.
      expect(app.registeredRoutes.length).toBeGreaterThan(8);
      const unlisted = await unguarded(base, app.registeredRoutes, EXPECTED);
      expect(unlisted).toContain('GET /v1/records/leak: not in the guard table (classify it: client, admin or open)');
    } finally {
      await app.close();
    }
  });
});
