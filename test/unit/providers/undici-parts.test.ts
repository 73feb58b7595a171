import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent, request, undiciErrors } from '../../../src/providers/undici.js';

// undici's modules imported one by one (src/providers/undici.ts): the pieces the providers use, with the shapes they use.
let server: Server;
let base: string;
const seen: Array<{ method?: string; url?: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('requests a URL as undici does: origin and path with its query, GET unless told, on the agent given', async () => {
  const agent = new Agent({ keepAliveTimeout: 1_000 });
  try {
    const got = await request(`${base}/v1/models?limit=2`, { dispatcher: agent, headers: { accept: 'application/json' } });
    expect(got.statusCode).toBe(200);
    expect(await got.body.json()).toEqual({ ok: true });
    const posted = await request(new URL(`${base}/token`), { dispatcher: agent, method: 'POST', body: 'a=b' });
    await posted.body.text();
    expect(seen).toEqual([{ method: 'GET', url: '/v1/models?limit=2' }, { method: 'POST', url: '/token' }]);
  } finally {
    await agent.close();
  }
});

it('refuses a URL that is not http(s) with undici\'s own error, and keeps undici\'s error classes', () => {
  expect(() => request('file:///etc/passwd', {})).toThrow(undiciErrors.InvalidArgumentError);
  expect(new undiciErrors.ConnectTimeoutError()).toBeInstanceOf(undiciErrors.UndiciError);
});
