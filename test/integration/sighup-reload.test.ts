import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { PROCESS_TEST_TIMEOUT_MS, startNodeProcess, type NodeProcess } from '../helpers/node-process.js';

/** SIGHUP on a real `meshgate start` process: the config file is read again; a bad one is refused and the node carries on. */
let mock: MockUpstream;
let dir: string;
let node: NodeProcess;
let original: string;

const chat = (model: string) => fetch(`${node.url}/v1/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
});

beforeAll(async () => {
  mock = await startMockUpstream();
  dir = await mkdtemp(join(tmpdir(), 'meshgate-sighup-'));
  node = await startNodeProcess(mock, dir);
  original = await readFile(node.configFile, 'utf8');
}, PROCESS_TEST_TIMEOUT_MS);

afterAll(async () => {
  node?.child.kill('SIGKILL');
  await node?.exited;
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('SIGHUP', () => {
  it('reloads the file: a provider added there serves without a restart', async () => {
    expect((await chat('gpt-4o-mini')).status).toBe(404);
    await writeFile(node.configFile, `${original}\n[[providers]]\nid = "added"\ntype = "openai"\nbase_url = "${mock.openaiBaseUrl}"\napi_key = "test-key"\nmodels = ["gpt-4o-mini"]\n`);
    node.child.kill('SIGHUP');
    const line = await node.waitForLog((l) => l.msg === 'config reloaded');
    expect(line).toMatchObject({ applied: ['providers'], restart_required: [] });
    const res = await chat('gpt-4o-mini');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-meshgate-provider')).toBe('added');
  }, PROCESS_TEST_TIMEOUT_MS);

  it('refuses a bad file, logs why, and keeps serving with the running config', async () => {
    await writeFile(node.configFile, `${original}\n[[providers]]\nid = "added"\ntype = "openai"\nmax_retries = "lots"\n`);
    node.child.kill('SIGHUP');
    const line = await node.waitForLog((l) => l.msg === 'config reload refused: the running config stays');
    expect(String(line.err)).toMatch(/providers\[1\]\.max_retries/);
    expect((await chat('gpt-4o-mini')).status).toBe(200);
    expect((await chat('gpt-4o')).status).toBe(200);
    expect(node.child.exitCode).toBeNull();
  }, PROCESS_TEST_TIMEOUT_MS);
});
