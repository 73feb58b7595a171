import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { errorBody, toGatewayError } from '../../../src/errors/index.js';
import { loadPortalAssets, PORTAL_CSP, portalRoutes } from '../../../src/portal/index.js';

async function app() {
  const server = Fastify();
  server.setErrorHandler((err, _request, reply) => {
    const error = toGatewayError(err);
    void reply.code(error.status).send(errorBody('openai', error));
  });
  await server.register(portalRoutes());
  return server;
}

describe('portal files', () => {
  it('serves the console and every file with the strict CSP, nosniff and no caching of stale code', async () => {
    const server = await app();
    for (const url of ['/', '/portal/app.js', '/portal/portal.css', '/portal/views/overview.js', '/portal/vendor/uplot.js', '/portal/vendor/uplot.css']) {
      const response = await server.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-security-policy'], url).toBe(PORTAL_CSP);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['cache-control']).toBe('no-cache');
    }
    expect((await server.inject({ method: 'GET', url: '/' })).headers['content-type']).toBe('text/html; charset=utf-8');
    expect((await server.inject({ method: 'GET', url: '/portal/app.js' })).headers['content-type']).toBe('text/javascript; charset=utf-8');
    await server.close();
  });

  it('serves uPlot from its npm package, not a copy', async () => {
    const server = await app();
    const served = (await server.inject({ method: 'GET', url: '/portal/vendor/uplot.js' })).body;
    expect(served).toBe(readFileSync(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'), 'utf8'));
    await server.close();
  });

  it('answers 404 for anything that is not one of its files (no path walking)', async () => {
    const server = await app();
    for (const url of ['/portal/nope.js', '/portal/../package.json', '/portal/%2e%2e/portal-routes.ts', '/portal/']) {
      expect((await server.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    }
    await server.close();
  });

  it('the CSP refuses inline code, and no file relies on it (no inline script, style attribute or innerHTML)', () => {
    expect(PORTAL_CSP).toContain("default-src 'self'");
    expect(PORTAL_CSP).toContain("script-src 'self'");
    expect(PORTAL_CSP).not.toMatch(/unsafe-(inline|eval)/);
    for (const [path, asset] of loadPortalAssets()) {
      if (path.startsWith('/portal/vendor/')) continue;
      const text = asset.body.toString('utf8').replaceAll('http://www.w3.org/2000/svg', '');
      expect(text, path).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(text, path).not.toMatch(/\sstyle=|setAttribute\(\s*['"]style|innerHTML|outerHTML|insertAdjacentHTML|eval\(|new Function/);
      expect(text, path).not.toMatch(/https?:\/\//); // no CDN: everything from this origin (the SVG namespace aside)
    }
  });
});
