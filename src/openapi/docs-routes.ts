import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors/index.js';
import { buildOpenApiDocument, type DocumentedRoute } from './openapi-document.js';
import type { RouteDoc } from './route-doc.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Our own assets; the build (dist/openapi/) finds them in the package's src/, which is shipped ("files"). */
const OWN_ASSETS = existsSync(join(here, 'assets')) ? join(here, 'assets') : join(here, '..', '..', 'src', 'openapi', 'assets');
const SWAGGER_UI = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The files /docs needs, and nothing else of the package: a fixed list, so no path from a URL reaches the disk. */
const ASSETS = {
  'swagger-ui.css': { dir: SWAGGER_UI, type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { dir: SWAGGER_UI, type: 'text/javascript; charset=utf-8' },
  'favicon-32x32.png': { dir: SWAGGER_UI, type: 'image/png' },
  'docs-init.js': { dir: OWN_ASSETS, type: 'text/javascript; charset=utf-8' },
} as const;
type AssetName = keyof typeof ASSETS;

/**
 * Scripts from this origin only (Swagger UI and its init file; no inline script), styles from this origin plus the
 * inline style attributes Swagger UI's React views set, calls to this origin only.
 */
export const DOCS_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "font-src 'self' data:",
  "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = { 'content-security-policy': DOCS_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

// Relative links: /docs → /docs/<asset> and /openapi.json, also behind a proxy that serves the node under a prefix.
const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshgate API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/docs-init.js"></script>
</body>
</html>
`;

const assetParamsSchema = z.object({ asset: z.enum(Object.keys(ASSETS) as [AssetName, ...AssetName[]]) });

const openApiDoc: RouteDoc = {
  tag: 'Operator',
  summary: 'This API description (OpenAPI 3.1)',
  description: 'Generated from the zod schemas the routes validate their input with.',
  responses: { 200: { description: 'The OpenAPI 3.1 document.', schema: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) }) } },
};
const docsPageDoc: RouteDoc = {
  tag: 'Operator',
  summary: 'Interactive API documentation (Swagger UI, served by the node)',
  responses: { 200: { description: 'The documentation page.', contentType: 'text/html', schema: z.string() } },
};
const docsAssetDoc: RouteDoc = {
  tag: 'Operator',
  summary: 'A file of the interactive documentation',
  params: assetParamsSchema,
  responses: { 200: { description: 'The file.', contentType: 'application/octet-stream', schema: z.string() } },
};

/**
 * `GET /openapi.json` (built once, on first request, from the app's route table) and `GET /docs` (Swagger UI from
 * the `swagger-ui-dist` package; no CDN, works offline). Open: the document describes the software, not the node's
 * data, and every route it lists keeps its own guard.
 */
export function docsRoutes(routes: () => DocumentedRoute[]): FastifyPluginAsync {
  let document: string | undefined;
  const files = new Map<AssetName, Buffer>();
  return async (app) => {
    app.get('/openapi.json', { config: { doc: openApiDoc } }, async (_request, reply) => {
      document ??= JSON.stringify(buildOpenApiDocument(routes()));
      return reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(document);
    });

    app.get('/docs', { config: { doc: docsPageDoc } }, async (_request, reply) =>
      reply.headers(SECURITY_HEADERS).header('content-type', 'text/html; charset=utf-8').send(DOCS_HTML));

    app.get('/docs/:asset', { config: { doc: docsAssetDoc } }, async (request, reply) => {
      const parsed = assetParamsSchema.safeParse(request.params);
      if (!parsed.success) throw new GatewayError('route_not_found', `No documentation file ${request.url.split('?')[0]}.`);
      const name = parsed.data.asset;
      const asset = ASSETS[name];
      let body = files.get(name);
      if (!body) {
        body = await readFile(join(asset.dir, name));
        files.set(name, body);
      }
      return reply.headers(SECURITY_HEADERS).header('content-type', asset.type).header('cache-control', 'public, max-age=3600').send(body);
    });
  };
}
