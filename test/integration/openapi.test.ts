import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiPath } from '../../src/openapi/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * GET /openapi.json on a real node with every optional route group on (mesh, ledger): a valid OpenAPI 3.1 document
 * that lists every route the app registered, built from the routes' own zod schemas; GET /docs serves Swagger UI
 * from the package, under a CSP that allows no inline script.
 */
let mock: MockUpstream;
let node: TestGateway;
let document: { openapi: string; paths: Record<string, Record<string, OperationDoc>>; components: { securitySchemes: Record<string, unknown> } };

interface OperationDoc {
  security: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { example?: unknown }> };
  responses: Record<string, unknown>;
  parameters?: Array<{ name: string; in: string }>;
}

/** CORS preflight is answered for every path by one catch-all route; the document says so in its description. */
const UNDOCUMENTED = new Set(['OPTIONS /*']);

beforeAll(async () => {
  mock = await startMockUpstream();
  node = await startTestGateway([mockProviders(mock).openai], {
    mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 1_000 },
  });
  const res = await fetch(`${node.url}/openapi.json`);
  expect(res.status).toBe(200);
  document = await res.json() as typeof document;
}, 60_000);

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toMatch(/^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('lists every route the node registered, with the method it was registered for', () => {
    const routes = node.gateway.app.registeredRoutes.filter((r) => !UNDOCUMENTED.has(`${r.method} ${r.url}`));
    // The groups that exist only with the mesh on are there too.
    expect(routes.map((r) => r.url)).toEqual(expect.arrayContaining(['/v1/mesh', '/v1/mesh/ledger', '/v1/mesh/receipts', '/v1/query', '/v1/ask']));
    const missing = routes.filter((r) => !document.paths[openApiPath(r.url, r.doc?.wildcard)]?.[r.method.toLowerCase()]).map((r) => `${r.method} ${r.url}`);
    expect(missing, 'registered routes missing from the OpenAPI document (add `config: { doc }` where the route is registered)').toEqual([]);
  });

  it('applies the security of the scope a route is registered in', () => {
    expect(document.paths['/v1/admin/tokens']!.post!.security).toEqual([{ adminKey: [] }]);
    expect(document.paths['/v1/query']!.post!.security).toEqual([{ adminKey: [] }]);
    expect(document.paths['/v1/chat/completions']!.post!.security).toContainEqual({ bearer: [] });
    expect(document.paths['/health']!.get!.security).toEqual([]);
  });

  it('takes request bodies and parameters from the zod schemas the routes validate with', () => {
    const chat = document.paths['/v1/chat/completions']!.post!;
    const schema = (chat.requestBody!.content['application/json'] as { schema: { required: string[]; properties: Record<string, unknown> } }).schema;
    expect(schema.required).toEqual(expect.arrayContaining(['model', 'messages']));
    expect(schema.properties).toHaveProperty('tools');
    const records = document.paths['/v1/records']!.get!;
    expect(records.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['from', 'to', 'model', 'cursor', 'limit']));
    expect(document.paths['/v1/admin/tokens/{id}']!.delete!.parameters).toContainEqual(expect.objectContaining({ name: 'id', in: 'path' }));
  });

  it('has request examples that the routes\' schemas accept', async () => {
    const { ZodType } = await import('zod');
    let checked = 0;
    for (const route of node.gateway.app.registeredRoutes) {
      const doc = route.doc;
      if (!doc?.body || doc.bodyExample === undefined) continue;
      expect(doc.body).toBeInstanceOf(ZodType);
      const parsed = doc.body.safeParse(doc.bodyExample);
      expect(parsed.success, `${route.method} ${route.url}: ${parsed.error?.message}`).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });
});

describe('GET /docs', () => {
  it('serves Swagger UI from the package with a CSP that allows no inline script', async () => {
    const page = await fetch(`${node.url}/docs`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    const html = await page.text();
    // Every script is a file of this node; none is inline, none comes from elsewhere.
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(body!.trim()).toBe('');
      expect(attributes).toMatch(/src="docs\/[\w.-]+\.js"/);
    }
    for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css', 'docs-init.js']) {
      const res = await fetch(`${node.url}/docs/${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(100);
    }
  });

  it('serves only its own files', async () => {
    expect((await fetch(`${node.url}/docs/package.json`)).status).toBe(404);
    expect((await fetch(`${node.url}/docs/..%2Fpackage.json`)).status).toBe(404);
  });
});
