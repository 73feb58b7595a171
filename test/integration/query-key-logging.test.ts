import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { generateGatewayToken } from '../../src/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { mockProviders } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { lineSink } from '../helpers/log-lines.js';

/**
 * A `?key=` credential (Gemini REST) never shows in a log line — at the most verbose level, on every path a request
 * can take: served, streamed, refused, unknown route, wrong method, bad input, upstream failure, framework errors —
 * nor in a usage record, nor in what the client is answered.
 */
const VIRTUAL_KEY = 'team-q-virtual-key-QUERYKEY0123456789';
let mock: MockUpstream;
let dir: string;
let node: Gateway;
let token: string;
const lines: string[] = [];

beforeAll(async () => {
  mock = await startMockUpstream();
  dir = await mkdtemp(join(tmpdir(), 'meshgate-query-key-'));
  const sink = lineSink(lines);
  const config = parseConfig({
    server: { host: '127.0.0.1', port: 0, shutdown_grace_seconds: 1 }, storage: { dir },
    auth: { mode: ['token', 'key'] },
    key_map: { [VIRTUAL_KEY]: { label: 'team-q' } },
    providers: [{ ...mockProviders(mock).gemini, max_retries: 0 }],
  }, 'query key test', {});
  node = await Gateway.start(config, { logger: createLogger({ level: 'trace', destination: sink }) });
  token = await generateGatewayToken(node.access.adminKey.secret.reveal(), { jti: 'query-key-token', expiresIn: 600_000 });
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
const post = (path: string, query: string) => fetch(`${node.url}${path}?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('a key in the query string', () => {
  it('never appears in a log line, a record or an answer', async () => {
    const answers: Array<{ status: number; text: string }> = [];
    const send = async (res: Promise<Response>) => {
      const r = await res;
      answers.push({ status: r.status, text: await r.text() });
    };
    for (const key of [VIRTUAL_KEY, token]) {
      const q = `key=${encodeURIComponent(key)}`;
      await send(post('/v1beta/models/gemini-2.5-flash:generateContent', q));
      await send(post('/v1beta/models/gemini-2.5-flash:streamGenerateContent', `alt=sse&${q}`));
      await send(post('/v1beta/models/gemini-2.5-flash:generateContent', `${q}x`)); // not a valid credential: 401
      await send(post('/v1beta/models/gemini-2.5-flash:noSuchMethod', q));
      await send(post('/v1beta/no/such/route', q));
      await send(fetch(`${node.url}/v1beta/models/gemini-2.5-flash:generateContent?${q}`, { method: 'PUT', body })); // wrong method
      await send(post(`/v1beta/models/${'m'.repeat(600)}:generateContent`, q)); // over the router's parameter limit
      await send(post('/v1beta/models/%E0%A4%A:generateContent', q)); // a URL fastify cannot decode
      mock.enqueue({ kind: 'error', status: 500, message: 'upstream broke' });
      await send(post('/v1beta/models/gemini-2.5-flash:generateContent', q));
    }
    expect(answers.map((a) => a.status)).toEqual(Array(2).fill([200, 200, 401, 400, 404, 405, 414, 400, 502]).flat());

    await expect.poll(() => lines.filter((l) => l.includes('request completed')).length, { timeout: 5_000, interval: 20 }).toBe(6); // the requests that reached the pipeline: served, streamed, upstream failure, per key
    await node.records.flush();
    const records = await node.records.list({});
    expect(records.data.length).toBe(6); // the requests that reached the pipeline: served, streamed, upstream failure, per key
    expect(records.data.filter((r) => r.principal.kind === 'virtual_key')).not.toHaveLength(0);
    expect(records.data.filter((r) => r.principal.kind === 'token')).not.toHaveLength(0);
    expect(mock.requests.length).toBeGreaterThan(0);

    const everything = [lines.join('\n'), JSON.stringify(records), JSON.stringify(answers), JSON.stringify(mock.requests)].join('\n');
    for (const key of [VIRTUAL_KEY, token, encodeURIComponent(token)]) expect(everything).not.toContain(key);
    // The gateway's own token-shaped strings are gone too, not only the exact text.
    expect(everything).not.toContain('QUERYKEY');
  });

  it('is found and removed however it is percent-encoded: the name (`%6Bey`, `k%65y`), the value, or both', async () => {
    const before = lines.length;
    const encodedEvery = (text: string) => [...text].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');
    const forms = [`%6Bey=${VIRTUAL_KEY}`, `k%65y=${VIRTUAL_KEY}`, `%6b%65%79=${VIRTUAL_KEY}`, `key=${encodedEvery(VIRTUAL_KEY)}`, `%6Bey=${encodedEvery(VIRTUAL_KEY)}`];
    const statuses: number[] = [];
    const texts: string[] = [];
    for (const q of forms) {
      const res = await post('/v1beta/models/gemini-2.5-flash:generateContent', q);
      statuses.push(res.status);
      texts.push(await res.text());
      // A route that fails before the pipeline logs the URL too.
      const missing = await post('/v1beta/no/such/route', q);
      statuses.push(missing.status);
      texts.push(await missing.text());
    }
    // Each form is read as the credential it is (answered 200), never left in the URL as an unknown parameter.
    expect(statuses).toEqual(Array(forms.length).fill([200, 404]).flat());
    await expect.poll(() => lines.slice(before).filter((l) => l.includes('request completed')).length, { timeout: 5_000, interval: 20 }).toBe(forms.length);
    await node.records.flush();
    const everything = [lines.slice(before).join('\n'), JSON.stringify(await node.records.list({})), texts.join('\n')].join('\n');
    for (const form of [VIRTUAL_KEY, encodedEvery(VIRTUAL_KEY), encodedEvery(VIRTUAL_KEY).toLowerCase()]) expect(everything).not.toContain(form);
    expect(everything).not.toContain('QUERYKEY');
    expect(everything).not.toMatch(/%6bey|k%65y/i);
  });
});
