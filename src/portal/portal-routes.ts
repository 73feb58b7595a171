import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors/index.js';
import type { RouteDoc } from '../openapi/index.js';

/**
 * The web console at `/`: hand-written ES modules, HTML and CSS from `src/portal/assets/` (no build step; the
 * package ships `src/`, so a build in `dist/` serves the same files), and uPlot from its npm package, resolved
 * through node_modules like any import. Everything is read once at start and served from memory with a strict
 * Content-Security-Policy: scripts, styles and connections from this origin only, no inline code, no framing.
 * The pages hold no data; every call they make goes to the operator API with the admin key as a bearer header.
 */
export const PORTAL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': PORTAL_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // Always revalidated: an upgraded node never runs a stale copy of its own console.
  'cache-control': 'no-cache',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface Asset {
  body: Buffer;
  type: string;
}

/** `src/portal/assets` beside this module when run from the sources, or from `dist/portal/` in a build. */
function assetsDir(): string {
  for (const candidate of ['./assets/', '../../src/portal/assets/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  throw new Error('the portal assets (src/portal/assets) are missing from this installation');
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** URL path → asset: the console's own files under /portal/, uPlot under /portal/vendor/. */
export function loadPortalAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const dir = assetsDir();
  for (const file of walk(dir)) {
    const type = CONTENT_TYPES[extname(file)];
    if (type) assets.set(`/portal/${relative(dir, file).split(sep).join('/')}`, { body: readFileSync(file), type });
  }
  const resolve = createRequire(import.meta.url).resolve;
  assets.set('/portal/vendor/uplot.js', { body: readFileSync(resolve('uplot/dist/uPlot.esm.js')), type: CONTENT_TYPES['.js']! });
  assets.set('/portal/vendor/uplot.css', { body: readFileSync(resolve('uplot/dist/uPlot.min.css')), type: CONTENT_TYPES['.css']! });
  return assets;
}

function send(reply: FastifyReply, asset: Asset) {
  return reply.headers({ ...SECURITY_HEADERS, 'content-type': asset.type }).send(asset.body);
}

export const portalDocs = {
  index: {
    tag: 'Operator', summary: 'The web console (sign in with the admin key)',
    responses: { 200: { description: 'The console page.', contentType: 'text/html', schema: z.string() } },
  },
  files: {
    tag: 'Operator', summary: 'A file of the web console (its scripts, styles and uPlot)', wildcard: 'file',
    params: z.object({ file: z.string().describe('e.g. `app.js`, `views/overview.js`, `vendor/uplot.js`.') }),
    responses: { 200: { description: 'The file.', contentType: 'text/javascript', schema: z.string(), alternatives: { 'text/css': z.string() } } },
  },
} satisfies Record<string, RouteDoc>;

/** GET / (the console) and GET /portal/* (its files). Open routes: they serve code, never data. */
export function portalRoutes(assets: Map<string, Asset> = loadPortalAssets()): FastifyPluginAsync {
  const index = assets.get('/portal/index.html');
  if (!index) throw new Error('the portal has no index.html');
  return async (app) => {
    app.get('/', { config: { doc: portalDocs.index } }, async (_request, reply) => send(reply, index));
    app.get('/portal/*', { config: { doc: portalDocs.files } }, async (request, reply) => {
      const path = request.url.split('?')[0]!;
      const asset = assets.get(path);
      if (!asset) throw new GatewayError('route_not_found', `No portal file ${path}.`);
      return send(reply, asset);
    });
  };
}
