import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { PROCESS_TEST_TIMEOUT_MS, STARTUP_TIMEOUT_MS } from '../helpers/node-process.js';
import { mallocTrimAvailable } from '../../src/gateway/idle-memory.js';
import { IDLE_LATEST_MS, longIdleLatestMs } from '../../src/gateway/idle-watch.js';
// @ts-expect-error plain JavaScript (bin/ runs before any TypeScript tooling is loaded)
import { MALLOC_ARENAS, MALLOC_TRIM_THRESHOLD, SEMI_SPACE_MB } from '../../bin/entry.js';

const BIN = join(import.meta.dirname, '../../bin/meshgate.js');

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout, stderr, exited };
}

let mock: MockUpstream;
let dir: string;

beforeAll(async () => {
  mock = await startMockUpstream();
  dir = await mkdtemp(join(tmpdir(), 'meshgate-cli-'));
});

afterAll(async () => {
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('meshgate CLI', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('starts from environment variables alone, says what it serves, and stops cleanly on SIGTERM', async () => {
    const probe = join(import.meta.dirname, '../helpers/builtin-probe.mjs');
    const proc = run(['start', '--port', '0', '--data', join(dir, 'data')], { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: mock.openaiBaseUrl, NODE_OPTIONS: `--import=${JSON.stringify(probe)}` });
    try {
      await expect.poll(() => proc.stdout.find((l) => l.startsWith('meshgate listening on ')), { timeout: STARTUP_TIMEOUT_MS, interval: 50 }).toBeDefined();
      const url = proc.stdout.find((l) => l.startsWith('meshgate listening on '))!.slice('meshgate listening on '.length);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(proc.stdout.join('\n')).toContain('provider: openai (openai)');
      const health = (await (await fetch(`${url}/health`)).json()) as { status: string; providers: Array<{ id: string }> };
      expect(health.status).toBe('ok');
      expect(health.providers.map((p) => p.id)).toEqual(['openai']);
      // The same process re-executed itself with V8's young generation capped, fewer malloc arenas and a fixed trim threshold (bin/entry.js).
      if (typeof process.execve === 'function' && existsSync(`/proc/${proc.child.pid}/cmdline`)) {
        expect(readFileSync(`/proc/${proc.child.pid}/cmdline`, 'utf8').split('\0')).toContain(`--max-semi-space-size=${SEMI_SPACE_MB}`);
        expect(readFileSync(`/proc/${proc.child.pid}/environ`, 'utf8').split('\0')).toContain(`MALLOC_ARENA_MAX=${MALLOC_ARENAS}`);
        expect(readFileSync(`/proc/${proc.child.pid}/environ`, 'utf8').split('\0')).toContain(`MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD}`);
      }
      // Models were discovered from the provider's GET /models.
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      expect(models.data.length).toBeGreaterThan(0);
      const chat = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: models.data[0]!.id, messages: [{ role: 'user', content: 'from the cli test' }] }),
      });
      expect(chat.status).toBe(200);
      // Serving left Node's own undici unloaded (an ES import of node:http loads it: ~3.3 MB of heap for nothing).
      proc.child.kill('SIGUSR2');
      await expect.poll(() => proc.stdout.find((l) => l.startsWith('builtin undici loaded: ')), { timeout: 5_000, interval: 50 }).toBe('builtin undici loaded: []');
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      expect(proc.stdout.at(-1)).toBe('meshgate stopped');
    } finally {
      proc.child.kill('SIGKILL');
    }
  });

  it('collects what start-up left once it first idles with nothing served; after requests, gives back free memory, writes LevelDB out and collects again after idle_heap_reclaim_seconds, saying so at debug level', async () => {
    const file = join(dir, 'idle.toml');
    const data = join(dir, 'data-idle');
    await writeFile(file, `[server]\nidle_heap_reclaim_seconds = 10\n[[providers]]\nid = "openai"\ntype = "openai"\napi_key = "test-key"\nbase_url = "${mock.openaiBaseUrl}"\n`);
    const proc = run(['start', '--config', file, '--port', '0', '--data', data], { LOG_LEVEL: 'debug' });
    const logged = <T>(msg: string) => () => proc.stderr.flatMap((l) => (l.includes(`"msg":"${msg}"`) ? [JSON.parse(l) as T] : []));
    /** LevelDB's table files (an in-memory table written out makes one; until then the writes are in its log only). */
    const tables = async () => (await readdir(join(data, 'leveldb'))).filter((name) => name.endsWith('.ldb'));
    try {
      const collected = logged<{ heapMb: number; heapAfterMb: number; gcMs: number; trimmed: boolean }>('idle: heap collected');
      const reclaimed = logged<{ trimmed: boolean; rssMb: number; httpParsers: number }>('idle: memory reclaimed');
      // The first idle spell after start-up collects at once, before any request.
      await expect.poll(() => collected().length, { timeout: STARTUP_TIMEOUT_MS + IDLE_LATEST_MS + 5_000, interval: 200 }).toBe(1);
      expect(collected()[0]!.heapAfterMb).toBeLessThan(collected()[0]!.heapMb);
      // Built by npm install where a C compiler is (the native step's own test requires one in CI).
      expect(collected()[0]!.trimmed).toBe(mallocTrimAvailable());
      expect(reclaimed()).toEqual([]);
      expect(await tables()).toEqual([]);
      const url = proc.stdout.find((l) => l.startsWith('meshgate listening on '))!.slice('meshgate listening on '.length);
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      // On a connection of its own that the node closes after the answer: its parser goes back to node:http's list.
      const chat = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${url}/v1/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ model: models.data[0]!.id, messages: [{ role: 'user', content: 'before an idle spell' }] }));
      });
      expect(chat).toBe(200);
      // After requests: malloc's pages (and node:http's idle parsers) at the spell's start, then — the spell lasting
      // idle_heap_reclaim_seconds — LevelDB's in-memory table written out and the heap collected.
      await expect.poll(() => collected().length, { timeout: longIdleLatestMs(10_000) + 5_000, interval: 200 }).toBe(2);
      expect(reclaimed()).toHaveLength(1);
      expect(reclaimed()[0]!.trimmed).toBe(mallocTrimAvailable());
      expect(reclaimed()[0]!.httpParsers).toBeGreaterThanOrEqual(1); // the closed connection's
      expect((await tables()).length).toBeGreaterThan(0);
    } finally {
      proc.child.kill('SIGKILL');
    }
  }, PROCESS_TEST_TIMEOUT_MS + IDLE_LATEST_MS + longIdleLatestMs(10_000));

  it('refuses a bad config with the file, the key and what was expected', async () => {
    const file = join(dir, 'bad.toml');
    await writeFile(file, '[server]\nport = "high"\n[[providers]]\nid = "x"\ntype = "openia"\n');
    const proc = run(['start', '--config', file], {});
    expect(await proc.exited).toBe(2);
    const text = proc.stderr.join('\n');
    expect(text).toContain(file);
    expect(text).toMatch(/server\.port: .*number/i);
    expect(text).toMatch(/providers\[0\]\.type/);
  });

  it('refuses a cloud provider it has no credentials for, naming the settings and variables to set', async () => {
    const file = join(dir, 'bedrock.toml');
    await writeFile(file, `[storage]\ndir = "${join(dir, 'data-bedrock')}"\n[[providers]]\nid = "aws"\ntype = "bedrock"\nmodels = ["amazon.nova-pro-v1:0"]\n[providers.aws]\nregion = "us-east-1"\n`);
    const proc = run(['start', '--config', file], { AWS_ACCESS_KEY_ID: 'AKIAWITHOUTSECRET' });
    expect(await proc.exited).toBe(2);
    const text = proc.stderr.join('\n');
    expect(text).toContain('provider aws: no AWS credentials');
    expect(text).toContain('AWS_SECRET_ACCESS_KEY');
    expect(text).not.toContain('AKIAWITHOUTSECRET');
  });

  it('says plainly why it cannot start: data directory in use, port in use; never prints a key in a URL', async () => {
    const data = join(dir, 'shared-data');
    const first = run(['start', '--port', '0', '--data', data], { OLLAMA_HOST: 'http://user:hunter2@127.0.0.1:9/?api-key=SEKRET' });
    try {
      await expect.poll(() => first.stdout.find((l) => l.startsWith('meshgate listening on ')), { timeout: STARTUP_TIMEOUT_MS, interval: 50 }).toBeDefined();
      expect(first.stdout.join('\n')).not.toMatch(/hunter2|SEKRET/);
      expect(first.stdout.join('\n')).toContain('provider: ollama (openai_compatible) → http://127.0.0.1:9');
      const port = new URL(first.stdout.find((l) => l.startsWith('meshgate listening on '))!.slice('meshgate listening on '.length)).port;

      const sameDir = run(['start', '--port', '0', '--data', data], {});
      expect(await sameDir.exited).toBe(1);
      expect(sameDir.stderr.join('\n')).toMatch(/^meshgate: the data directory .* is in use by another meshgate process/m);
      expect(sameDir.stderr.join('\n')).not.toMatch(/\n\s+at /); // a sentence, not a stack trace

      const samePort = run(['start', '--port', port, '--data', join(dir, 'other-data')], {});
      expect(await samePort.exited).toBe(1);
      expect(samePort.stderr.join('\n')).toMatch(new RegExp(`^meshgate: 127\\.0\\.0\\.1:${port} is already in use`, 'm'));
      // The key generated before the port failed is announced by its file on the next start.
      const again = run(['start', '--port', '0', '--data', join(dir, 'other-data')], {});
      await expect.poll(() => again.stdout.find((l) => l.startsWith('meshgate listening on ')), { timeout: STARTUP_TIMEOUT_MS, interval: 50 }).toBeDefined();
      expect(again.stdout.join('\n')).toMatch(/admin key(?: generated|: in )/);
      again.child.kill('SIGTERM');
      await again.exited;
    } finally {
      first.child.kill('SIGKILL');
    }
  });

  it('prints usage for an unknown command', async () => {
    const proc = run(['fly'], {});
    expect(await proc.exited).toBe(2);
    expect(proc.stderr.join('\n')).toContain("unknown command 'fly'");
  });
});
