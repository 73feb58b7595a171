import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { unauthorized } from '../../src/errors/index.js';
import { buildApp } from '../../src/http/app.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { responsesRoutes } from '../../src/http/routes/responses.js';
import { ResponseStore } from '../../src/responses/index.js';
import { ModelCatalog } from '../../src/router/model-catalog.js';
import { Store } from '../../src/store/index.js';

/**
 * Every route except /health and CORS preflight must sit behind a guard: client API routes behind `authenticate`,
 * operator routes behind `authorizeAdmin` (the Portkey lesson: one route registered outside the validating
 * middleware is a bypass). Walks the whole route table with guards that always refuse.
 */
describe('route guards', () => {
  it('refuses every guarded route when the guard refuses', async () => {
    const config = parseConfig({}, 'test', {});
    const logger = pino({ level: 'silent' });
    const catalog = new ModelCatalog([]);
    const pipeline = new Pipeline({ config, catalog, breakers: new Map(), logger });
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-guards-'));
    const store = await Store.open(dir);
    const responses = await ResponseStore.open(store, { retentionDays: 0 });
    const app = await buildApp({
      config, logger, pipeline,
      info: { providers: [], catalog, breakers: new Map(), startedAt: Date.now() },
      apiPlugins: [responsesRoutes({ pipeline, store: responses, limits: { maxChain: 10, maxBytes: 1_000_000 }, logger })],
      authenticate: async () => { throw unauthorized('guard says no', 'invalid_api_key'); },
      authorizeAdmin: async () => { throw unauthorized('admin guard says no', 'invalid_admin_key'); },
    });
    await app.ready();
    const open = new Set(['GET /health', 'OPTIONS /*']);
    const guarded = app.registeredRoutes.filter((r) => !open.has(`${r.method} ${r.url}`));
    expect(guarded.length).toBeGreaterThan(6);
    expect(guarded.map((r) => `${r.method} ${r.url}`)).toContain('DELETE /v1/responses/:id');
    for (const route of guarded) {
      const url = route.url.replace(':modelAction', 'gpt-4o:generateContent').replace(/:(\w+)/g, 'x');
      const res = await app.inject({ method: route.method as 'GET', url, payload: route.method === 'GET' || route.method === 'DELETE' ? undefined : {} });
      expect(res.statusCode, `${route.method} ${route.url} answered ${res.statusCode}`).toBe(401);
    }
    await app.close();
    await responses.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
});
