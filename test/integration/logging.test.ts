import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { lineSink } from '../helpers/log-lines.js';

/** A node whose JSON log lines are captured, with a provider key and credentials that must never show in them. */
const PROVIDER_KEY = 'sk-proj-ProviderKey0123456789abcdefABCDEF';
const CLIENT_SECRET = 'sk-proj-ClientSecret0123456789abcdefABCDE';
let mock: MockUpstream;
let dir: string;
let node: Gateway;
let url: string;
const lines: string[] = [];

beforeAll(async () => {
  mock = await startMockUpstream({ apiKey: PROVIDER_KEY });
  dir = await mkdtemp(join(tmpdir(), 'meshgate-logging-'));
  const sink = lineSink(lines);
  const config = parseConfig({
    server: { host: '127.0.0.1', port: 0 }, storage: { dir },
    providers: [{ id: 'openai', type: 'openai', base_url: mock.openaiBaseUrl, api_key: PROVIDER_KEY, models: ['gpt-4o'], max_retries: 0 }],
  }, 'logging test', {});
  node = await Gateway.start(config, { logger: createLogger({ level: 'info', destination: sink }) });
  url = node.url;
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('logs', () => {
  it('are JSON lines naming the request id, and never carry a key or a client credential', async () => {
    const ok = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_SECRET}` },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `secret in the prompt ${CLIENT_SECRET}` }] }),
    });
    expect(ok.status).toBe(200);
    mock.enqueue({ kind: 'error', status: 401, message: `Incorrect API key provided: ${PROVIDER_KEY}` });
    const failed = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'again' }] }) });
    expect(failed.status).toBe(502);
    await expect.poll(() => lines.filter((l) => l.includes('request completed')).length, { timeout: 5_000, interval: 20 }).toBe(2);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.find((e) => e.msg === 'request completed' && e.requestId === ok.headers.get('x-request-id'))).toMatchObject({ status: 200, provider: 'openai' });
    expect(entries.find((e) => e.msg === 'request completed' && e.requestId === failed.headers.get('x-request-id'))).toMatchObject({ status: 502 });
    const text = lines.join('\n');
    expect(text).not.toContain(PROVIDER_KEY);
    expect(text).not.toContain(CLIENT_SECRET);
  });
});
