import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { lineSink } from '../helpers/log-lines.js';

let mock: MockUpstream;
let dir: string;
let file: string;
let node: Gateway;
let adminKey: string;
const lines: string[] = [];

/** The node's config file: one provider of gpt-4o, plus whatever a test adds. */
function configText(extra: string[] = [], port = 0): string {
  return [
    '[server]', 'host = "127.0.0.1"', `port = ${port}`, 'shutdown_grace_seconds = 2',
    '[storage]', `dir = "${join(dir, 'data')}"`,
    '[routing]', 'backoff_ms = 1',
    '[[providers]]', 'id = "main"', 'type = "openai"', `base_url = "${mock.openaiBaseUrl}"`, 'api_key = "test-key"', 'models = ["gpt-4o"]',
    ...extra, '',
  ].join('\n');
}

const reload = () => fetch(`${node.url}/v1/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}` } });
const chat = (model: string) => fetch(`${node.url}/v1/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
});

beforeAll(async () => {
  mock = await startMockUpstream();
  dir = await mkdtemp(join(tmpdir(), 'meshgate-reload-'));
  file = join(dir, 'node.toml');
  await writeFile(file, configText());
  const sink = lineSink(lines);
  const { config, source } = await loadConfig({ file, env: {} });
  node = await Gateway.start(config, {
    logger: createLogger({ level: 'info', destination: sink }),
    configSource: source,
    reloadConfig: async () => (await loadConfig({ file, env: {} })).config,
  });
  adminKey = node.access.adminKey.secret.reveal();
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('config reload (POST /v1/admin/reload)', () => {
  it('applies new providers, groups, aliases, prices and public limits at once, and names what needs a restart', async () => {
    expect((await chat('gpt-4o-mini')).status).toBe(404);
    await writeFile(file, configText([
      '[[providers]]', 'id = "second"', 'type = "openai"', `base_url = "${mock.openaiBaseUrl}"`, 'api_key = "test-key"', 'models = ["gpt-4o-mini"]',
      '[[models]]', 'name = "quick"', 'alias_of = "gpt-4o-mini"',
      '[pricing."gpt-4o-mini"]', 'input = 1', 'output = 2',
      '[auth.public_limits]', 'models = ["gpt-4o-mini", "quick"]',
    ], 9));
    const res = await reload();
    const result = await res.json() as { applied: string[]; restart_required: string[]; warnings: string[] };
    expect(res.status, JSON.stringify(result)).toBe(200);
    expect(result.applied).toEqual(expect.arrayContaining(['providers', 'models', 'pricing', 'auth.public_limits']));
    expect(result.restart_required).toEqual(['server.port']);
    expect(result.warnings).toContain('server.port changed in the file: it takes effect at the next start');

    const viaAlias = await chat('quick');
    expect(viaAlias.status).toBe(200);
    expect(viaAlias.headers.get('x-meshgate-provider')).toBe('second');
    // The public limits now allow only the new models.
    const refused = await chat('gpt-4o');
    expect(refused.status).toBe(403);
    const models = await (await fetch(`${node.url}/v1/models`)).json() as { data: Array<{ id: string; pricing?: { input: number } }> };
    expect(models.data.find((m) => m.id === 'gpt-4o-mini')?.pricing?.input).toBe(1);
    expect(lines.some((l) => l.includes('"msg":"config reloaded"'))).toBe(true);
  });

  it('refuses an invalid file with the start-up messages and keeps the running config', async () => {
    await writeFile(file, configText(['[[providers]]', 'id = "third"', 'type = "no-such-type"', 'models = ["x"]']));
    const res = await reload();
    expect(res.status).toBe(409);
    const { error } = await res.json() as { error: { code: string; message: string } };
    expect(error.code).toBe('config_reload_failed');
    expect(error.message).toMatch(/providers\[1\]\.type/);
    expect(error.message).toMatch(/running config stays/);
    await writeFile(file, 'this is = = not toml');
    const notToml = await reload();
    expect(notToml.status).toBe(409);
    expect((await notToml.json() as { error: { message: string } }).error.message).toMatch(/not valid TOML/);
    // Still the config of the last good reload.
    const served = await chat('quick');
    expect(served.status).toBe(200);
    expect(served.headers.get('x-meshgate-provider')).toBe('second');
    expect(lines.filter((l) => l.includes('config reload refused')).length).toBe(2);
  });

  it('a file provider taking a run-time provider\'s id wins, with a warning; the stored one serves again once the file drops it', async () => {
    await writeFile(file, configText());
    expect((await reload()).status).toBe(200);
    const added = await fetch(`${node.url}/v1/providers`, {
      method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'shared', type: 'openai', base_url: mock.openaiBaseUrl, api_key: 'test-key', models: ['runtime-model'] }),
    });
    expect(added.status).toBe(201);
    await writeFile(file, configText(['[[providers]]', 'id = "shared"', 'type = "openai"', `base_url = "${mock.openaiBaseUrl}"`, 'api_key = "test-key"', 'models = ["file-model"]']));
    const res = await reload();
    const result = await res.json() as { warnings: string[] };
    expect(result.warnings.join('\n')).toMatch(/run-time provider "shared" is left out/);
    expect((await chat('file-model')).status).toBe(200);
    expect((await chat('runtime-model')).status).toBe(404);
    await writeFile(file, configText());
    expect((await reload()).status).toBe(200);
    expect((await chat('runtime-model')).status).toBe(200);
    expect((await chat('file-model')).status).toBe(404);
  });
});

describe('a node started without a config file', () => {
  it('answers reload with 409 reload_unavailable', async () => {
    const other = await startTestGateway([]);
    try {
      const res = await fetch(`${other.url}/v1/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${other.gateway.access.adminKey.secret.reveal()}` } });
      expect(res.status).toBe(409);
      expect((await res.json() as { error: { code: string } }).error.code).toBe('reload_unavailable');
    } finally {
      await other.close();
    }
  });
});
