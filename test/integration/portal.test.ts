import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let mock: MockUpstream;
let node: TestGateway;
let off: TestGateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  node = await startTestGateway([mockProviders(mock).openai], { auth: { mode: 'token' } });
  off = await startTestGateway([mockProviders(mock).openai], { server: { portal: false } });
});

afterAll(async () => {
  await Promise.all([node?.close(), off?.close()]);
  await mock?.close();
});

describe('the portal on a node', () => {
  it('is served at / to anyone (code, no data), while the aggregates it reads need the admin key', async () => {
    expect((await fetch(`${node.url}/`)).status).toBe(200);
    const refused = await fetch(`${node.url}/v1/usage/overview`);
    expect(refused.status).toBe(401);
    const admin = node.gateway.access.adminKey.secret.reveal();
    const allowed = await fetch(`${node.url}/v1/usage/overview?window=hour`, { headers: { authorization: `Bearer ${admin}` } });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { totals: { requests: number } }).totals.requests).toBe(0);
  });

  it('counts a finished request in the overview at once (the buckets are written with its record)', async () => {
    const admin = node.gateway.access.adminKey.secret.reveal();
    const response = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'count me' }] }),
    });
    expect(response.status).toBe(200);
    await node.waitForOutcomes(1);
    const overview = (await (await fetch(`${node.url}/v1/usage/overview?window=hour`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { totals: { requests: number }; top: { ip: unknown[] } };
    expect(overview.totals.requests).toBe(1);
    expect(overview.top.ip).toEqual([expect.objectContaining({ key: '127.0.0.1', requests: 1 })]);
  });

  it('is not served when server.portal = false', async () => {
    expect((await fetch(`${off.url}/`)).status).toBe(404);
    expect((await fetch(`${off.url}/portal/app.js`)).status).toBe(404);
  });
});
