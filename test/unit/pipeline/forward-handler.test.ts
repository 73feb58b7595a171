import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardHandler } from '../../../src/gateway/mesh-bridge.js';
import type { ForwardRequestFrame } from '../../../src/mesh/index.js';
import { startMockUpstream, type MockUpstream } from '../../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../../helpers/gateway.js';

/** The serving side of a forward, driven directly with frames a peer could send. */
let mock: MockUpstream;
let node: TestGateway;
beforeAll(async () => {
  mock = await startMockUpstream();
  node = await startTestGateway([{ id: 'mock', type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0, timeouts: { first_byte_ms: 30_000 } }]);
});
afterAll(async () => {
  await node?.close();
  await mock?.close();
});

const frame = (overrides: Partial<ForwardRequestFrame>): ForwardRequestFrame => ({
  id: `req_${Math.random().toString(36).slice(2)}`, format: 'openai', operation: 'chat', model: 'gpt-4o', stream: false,
  body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'from a peer' }] }, hop: 1, visited: ['12D3KooWRequester'], deadline: Date.now() + 10_000,
  ...overrides,
});

async function serve(f: ForwardRequestFrame) {
  const handle = forwardHandler(node.gateway.pipeline, { logger: pino({ level: 'silent' }), priceOf: () => undefined });
  const response = await handle(f, { peerId: '12D3KooWRequester', signal: new AbortController().signal });
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  return { status: response.head.status, body: Buffer.concat(chunks).toString('utf8') };
}

describe('forwarded requests, as the serving node sees them', () => {
  it('answers 400 for a body that is not a JSON object', async () => {
    for (const body of [null, [], 'text']) expect((await serve(frame({ body }))).status).toBe(400);
  });

  it('serves a request whose deadline is far beyond what a timer holds', async () => {
    const result = await serve(frame({ deadline: Date.now() + 2 ** 33 }));
    expect(result.status).toBe(200);
    expect(result.body).toContain('says: from a peer');
  });

  it('answers 504 when the deadline passes while the provider is still working', async () => {
    mock.enqueue({ kind: 'hang' });
    const result = await serve(frame({ deadline: Date.now() + 300 }));
    expect(result.status).toBe(504);
  });
});
