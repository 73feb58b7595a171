import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { lineSink } from '../helpers/log-lines.js';

/** The key of the upstream the run-time provider talks to: it must never show in an answer, a log line or the data directory in clear. */
const RUNTIME_KEY = 'sk-proj-RuntimeProviderKey0123456789abcdefAB';
const OTHER_KEY = 'sk-proj-OtherUpstreamKey0123456789abcdefABCD';

let fileUpstream: MockUpstream;
let upstreamA: MockUpstream;
let upstreamB: MockUpstream;
let dir: string;
let node: Gateway;
let adminKey: string;
const lines: string[] = [];

async function startNode(): Promise<Gateway> {
  const sink = lineSink(lines);
  const config = parseConfig({
    server: { host: '127.0.0.1', port: 0, shutdown_grace_seconds: 5 }, storage: { dir }, routing: { backoff_ms: 1 },
    providers: [{ id: 'file-openai', type: 'openai', base_url: fileUpstream.openaiBaseUrl, api_key: 'test-key', models: ['gpt-4o'] }],
  }, 'runtime providers test', {});
  return Gateway.start(config, { logger: createLogger({ level: 'debug', destination: sink }) });
}

function admin(method: string, path: string, body?: unknown, key = adminKey): Promise<Response> {
  return fetch(`${node.url}${path}`, {
    method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function chat(model: string, stream = false): Promise<Response> {
  return fetch(`${node.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hello' }] }),
  });
}

const runtimeBlock = () => ({ id: 'extra', type: 'openai_compatible', base_url: upstreamA.openaiBaseUrl, api_key: RUNTIME_KEY, models: ['extra-model'], max_retries: 0 });

beforeAll(async () => {
  fileUpstream = await startMockUpstream();
  upstreamA = await startMockUpstream({ apiKey: RUNTIME_KEY });
  upstreamB = await startMockUpstream({ apiKey: OTHER_KEY });
  dir = await mkdtemp(join(tmpdir(), 'meshgate-runtime-providers-'));
  node = await startNode();
  adminKey = node.access.adminKey.secret.reveal();
});

afterEach(() => {
  upstreamA.reset();
  upstreamB.reset();
});

afterAll(async () => {
  await node?.close();
  await Promise.all([fileUpstream?.close(), upstreamA?.close(), upstreamB?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe('run-time providers (POST/PATCH/DELETE /v1/providers)', () => {
  it('a provider added at run time serves at once, shows where it comes from, and never shows its key', async () => {
    expect((await chat('extra-model')).status).toBe(404);
    const added = await admin('POST', '/v1/providers', runtimeBlock());
    const text = await added.text();
    expect(added.status, text).toBe(201);
    expect(text).not.toContain(RUNTIME_KEY);
    expect(JSON.parse(text)).toMatchObject({ id: 'extra', type: 'openai_compatible', source: 'runtime', credentials: 'set', config: { id: 'extra', api_key: 'set', models: ['extra-model'] } });

    const served = await chat('extra-model');
    expect(served.status).toBe(200);
    expect(served.headers.get('x-meshgate-provider')).toBe('extra');
    expect(upstreamA.requests.at(-1)?.headers.authorization).toBe(`Bearer ${RUNTIME_KEY}`);

    const list = await (await fetch(`${node.url}/v1/providers`)).json() as { data: Array<{ id: string; source?: string; models: string[] }> };
    expect(list.data.map((p) => [p.id, p.source])).toEqual([['file-openai', 'config'], ['extra', 'runtime']]);
    const models = await (await fetch(`${node.url}/v1/models`)).json() as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toContain('extra-model');
    const one = await admin('GET', '/v1/providers/extra');
    expect(await one.text()).not.toContain(RUNTIME_KEY);
  });

  it('refuses a block the config schema refuses with 400 naming each key, and never repeats a value', async () => {
    const bad = await admin('POST', '/v1/providers', { id: 'broken', type: 'openai', base_url: 'not a url', api_key: RUNTIME_KEY, max_retries: 99, colour: 'blue' });
    expect(bad.status).toBe(400);
    const body = await bad.json() as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_provider_config');
    expect(body.error.message).toMatch(/base_url/);
    expect(body.error.message).toMatch(/max_retries/);
    expect(body.error.message).toMatch(/"colour"/);
    expect(JSON.stringify(body)).not.toContain(RUNTIME_KEY);
    const missingVar = await admin('POST', '/v1/providers', { id: 'env', type: 'openai', api_key: '${MESHGATE_TEST_SURELY_UNSET}', models: ['x'] });
    expect(missingVar.status).toBe(400);
    expect((await missingVar.json() as { error: { message: string } }).error.message).toMatch(/api_key: environment variable MESHGATE_TEST_SURELY_UNSET is not set/);
    expect((await admin('POST', '/v1/providers', 'just text')).status).toBe(400);
    // Nothing of the refused blocks serves.
    expect((await fetch(`${node.url}/v1/providers`).then((r) => r.json()) as { data: Array<{ id: string }> }).data.map((p) => p.id)).toEqual(['file-openai', 'extra']);
  });

  it('refuses a duplicate id, changes to the config file\'s providers, and unknown ids', async () => {
    const twice = await admin('POST', '/v1/providers', runtimeBlock());
    expect(twice.status).toBe(409);
    expect((await twice.json() as { error: { code: string } }).error.code).toBe('provider_exists');
    const sameAsFile = await admin('POST', '/v1/providers', { ...runtimeBlock(), id: 'file-openai' });
    expect(sameAsFile.status).toBe(409);
    const patchFile = await admin('PATCH', '/v1/providers/file-openai', { models: ['gpt-4o-mini'] });
    expect(patchFile.status).toBe(409);
    expect((await patchFile.json() as { error: { code: string; message: string } }).error).toMatchObject({ code: 'provider_read_only', message: expect.stringMatching(/config file/) });
    expect((await admin('DELETE', '/v1/providers/file-openai')).status).toBe(409);
    expect((await admin('DELETE', '/v1/providers/nobody')).status).toBe(404);
    expect((await admin('PATCH', '/v1/providers/nobody', { models: [] })).status).toBe(404);
    expect((await admin('PATCH', '/v1/providers/extra', { id: 'renamed' })).status).toBe(400);
  });

  it('the API needs the admin key', async () => {
    expect((await admin('POST', '/v1/providers', runtimeBlock(), 'sk-not-the-admin-key')).status).toBe(401);
    expect((await fetch(`${node.url}/v1/providers/extra`, { method: 'DELETE' })).status).toBe(401);
  });

  it('a PATCH applies at once while a stream already running finishes on the provider as it was', async () => {
    upstreamA.enqueue({ kind: 'slow', chunkDelayMs: 30 });
    const stream = await chat('extra-model', true);
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);

    // Moved to another upstream with another key: a merge patch of two fields, checked as a whole.
    const patched = await admin('PATCH', '/v1/providers/extra', { base_url: upstreamB.openaiBaseUrl, api_key: OTHER_KEY, models: ['extra-model', 'extra-model-2'] });
    const patchedText = await patched.text();
    expect(patched.status, patchedText).toBe(200);
    expect(patchedText).not.toContain(OTHER_KEY);
    expect(JSON.parse(patchedText)).toMatchObject({ config: { base_url: upstreamB.openaiBaseUrl, api_key: 'set', max_retries: 0 } });

    let rest = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain('data: [DONE]');
    expect(upstreamA.requests).toHaveLength(1);

    const after = await chat('extra-model-2');
    expect(after.status).toBe(200);
    expect(after.headers.get('x-meshgate-provider')).toBe('extra');
    expect(upstreamB.requests).toHaveLength(1);
    expect(upstreamB.requests[0]!.headers.authorization).toBe(`Bearer ${OTHER_KEY}`);

    // What GET shows, PATCHed back whole: the "set" placeholder keeps the stored key instead of becoming the key.
    const { config } = await (await admin('GET', '/v1/providers/extra')).json() as { config: Record<string, unknown> };
    expect(config.api_key).toBe('set');
    expect((await admin('PATCH', '/v1/providers/extra', { ...config, max_concurrent: 64 })).status).toBe(200);
    expect((await chat('extra-model-2')).status).toBe(200);
    expect(upstreamB.requests.at(-1)!.headers.authorization).toBe(`Bearer ${OTHER_KEY}`);
  });

  it('changes under load fail no request', async () => {
    let stop = false;
    const statuses: number[] = [];
    const load = Promise.all(Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 25 && !stop; i++) {
        const res = await chat(i % 2 ? 'extra-model' : 'gpt-4o');
        statuses.push(res.status);
        await res.arrayBuffer();
      }
    }));
    for (let i = 0; i < 4; i++) {
      const res = await admin('PATCH', '/v1/providers/extra', { max_concurrent: 100 + i, base_url: i % 2 ? upstreamA.openaiBaseUrl : upstreamB.openaiBaseUrl, api_key: i % 2 ? RUNTIME_KEY : OTHER_KEY });
      expect(res.status).toBe(200);
    }
    const added = await admin('POST', '/v1/providers', { id: 'spare', type: 'openai', base_url: upstreamB.openaiBaseUrl, api_key: OTHER_KEY, models: ['spare-model'] });
    expect(added.status).toBe(201);
    expect((await admin('DELETE', '/v1/providers/spare')).status).toBe(200);
    stop = true;
    await load;
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it('survives a restart, sealed at rest, and a DELETE takes it out of routing and of the data directory', async () => {
    await node.close();
    // LevelDB's files hold the block sealed: neither key is there in clear text.
    const leveldb = join(dir, 'leveldb');
    for (const file of await readdir(leveldb)) {
      const bytes = await readFile(join(leveldb, file));
      expect(bytes.includes(RUNTIME_KEY), file).toBe(false);
      expect(bytes.includes(OTHER_KEY), file).toBe(false);
    }
    node = await startNode();
    const list = await (await fetch(`${node.url}/v1/providers`)).json() as { data: Array<{ id: string; source?: string }> };
    expect(list.data.map((p) => [p.id, p.source])).toEqual([['file-openai', 'config'], ['extra', 'runtime']]);
    const served = await chat('extra-model-2');
    expect(served.status).toBe(200);
    expect(served.headers.get('x-meshgate-provider')).toBe('extra');

    const deleted = await admin('DELETE', '/v1/providers/extra');
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: 'extra', deleted: true });
    expect((await chat('extra-model-2')).status).toBe(404);
    await node.close();
    node = await startNode();
    expect((await (await fetch(`${node.url}/v1/providers`)).json() as { data: Array<{ id: string }> }).data.map((p) => p.id)).toEqual(['file-openai']);
  });

  it('a stored provider that no longer reads at start is left out, shown as such, and can be fixed by PATCH or removed', async () => {
    process.env.MESHGATE_RUNTIME_TEST_KEY = RUNTIME_KEY;
    try {
      const added = await admin('POST', '/v1/providers', { ...runtimeBlock(), id: 'from-env', api_key: '${MESHGATE_RUNTIME_TEST_KEY}', models: ['env-model'] });
      expect(added.status).toBe(201);
      // A bare reference names a variable, not a secret: it is shown as written.
      expect((await added.json() as { config: { api_key: string } }).config.api_key).toBe('${MESHGATE_RUNTIME_TEST_KEY}');
      expect((await chat('env-model')).status).toBe(200);
      await node.close();
    } finally {
      delete process.env.MESHGATE_RUNTIME_TEST_KEY;
    }
    node = await startNode();
    const left = await admin('GET', '/v1/providers/from-env');
    expect(await left.json()).toMatchObject({ id: 'from-env', source: 'runtime', status: 'left_out', error: expect.stringMatching(/MESHGATE_RUNTIME_TEST_KEY is not set/) });
    expect((await chat('env-model')).status).toBe(404);
    expect(lines.some((l) => l.includes('run-time provider left out'))).toBe(true);
    // Its id stays taken until it is fixed or removed.
    expect((await admin('POST', '/v1/providers', { ...runtimeBlock(), id: 'from-env' })).status).toBe(409);

    const fixed = await admin('PATCH', '/v1/providers/from-env', { api_key: RUNTIME_KEY });
    expect(fixed.status).toBe(200);
    expect(await fixed.json()).toMatchObject({ status: 'serving', config: { api_key: 'set' } });
    expect((await chat('env-model')).status).toBe(200);
    expect((await admin('DELETE', '/v1/providers/from-env')).status).toBe(200);
    expect((await admin('GET', '/v1/providers/from-env')).status).toBe(404);
  });

  it('a deleted provider\'s circuit breaker and its metric series go with it', async () => {
    // Nothing listens on port 1: every attempt is a connection error, which the breaker counts.
    expect((await admin('POST', '/v1/providers', { id: 'unreachable', type: 'openai', base_url: 'http://127.0.0.1:1/v1', api_key: 'k', models: ['nowhere-model'], max_retries: 0 })).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await chat('nowhere-model')).status).toBeGreaterThanOrEqual(500);
    expect(node.breakers.get('unreachable')?.state()).toBe('open');
    const metrics = () => fetch(`${node.url}/metrics`).then((r) => r.text());
    expect(await metrics()).toContain('meshgate_circuit_breaker_state{provider="unreachable",state="open"} 1');
    expect((await admin('DELETE', '/v1/providers/unreachable')).status).toBe(200);
    expect(node.breakers.has('unreachable')).toBe(false);
    // Its request counters stay (they are history); the gauge of its circuit state does not.
    expect(await metrics()).not.toContain('meshgate_circuit_breaker_state{provider="unreachable"');
  });

  it('no log line carries a provider key', () => {
    const text = lines.join('\n');
    expect(text).toContain('run-time provider changed');
    expect(text).not.toContain(RUNTIME_KEY);
    expect(text).not.toContain(OTHER_KEY);
  });
});
