import { describe, expect, it } from 'vitest';
import { mockAndNode } from '../helpers/gateway.js';

const ctx = mockAndNode((mock) => [{ id: 'mock', type: 'openai', base_url: `${mock.url}/v1`, api_key: 'test-key', models: ['gpt-4o-mini'] }]);

describe('a node between requests', () => {
  it('is told of each request its pipeline takes, and measures the event-loop delay while serving', async () => {
    const { gateway, url } = ctx.node;
    const before = gateway.idle.requests;
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(gateway.idle.requests).toBe(before + 1);
    expect(gateway.idle.idle).toBe(false);
    expect(gateway.metrics.eventLoopLag?.running).toBe(true);
  });
});
