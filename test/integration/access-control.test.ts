import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import pino from 'pino';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { generateGatewayToken } from '../../src/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY } from '../helpers/gateway.js';

/**
 * Access control end to end: a node in token/key mode, driven over HTTP with the official SDKs. The node is
 * restarted on the same data directory to prove revocations and quotas survive.
 */
let mock: MockUpstream;
let dir: string;
let node: Gateway;
let url: string;
let adminKey: string;

const VIRTUAL_KEY = 'team-a-virtual-key-0123456789';

async function start(): Promise<void> {
  const config = parseConfig({
    server: { host: '127.0.0.1', port: 0, trust_proxy: true, shutdown_grace_seconds: 1 },
    storage: { dir },
    auth: { mode: ['token', 'key'] },
    key_map: { [VIRTUAL_KEY]: { label: 'team-a', providers: { openai: 'team-a-provider-key' }, requests: { limit: 1000, period: 'day' } } },
    providers: [{ id: 'openai', type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o', 'gpt-4o-mini', 'acme-llm-1'] }],
  }, 'access test', {});
  node = await Gateway.start(config, { logger: pino({ level: 'silent' }) });
  url = node.url;
  adminKey = node.access.adminKey.secret.reveal();
}

beforeAll(async () => {
  mock = await startMockUpstream();
  mock.setDefault({ kind: 'ok' });
  dir = await mkdtemp(join(tmpdir(), 'meshgate-access-'));
  await start();
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

const chat = (token: string, extra: Record<string, string> = {}, model = 'gpt-4o') =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...extra },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
const mintViaApi = async (claims: Record<string, unknown>) => {
  const res = await fetch(`${url}/v1/admin/tokens`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` }, body: JSON.stringify(claims) });
  expect(res.status).toBe(201);
  return (await res.json()) as { token: string; id: string };
};

describe('access tokens', () => {
  it('tokens minted by the library, the CLI and the admin API all work with both SDKs', async () => {
    const fromLibrary = await generateGatewayToken(adminKey, { jti: 'library-token-1', expiresIn: 600_000 });
    const fromApi = (await mintViaApi({ jti: 'admin-api-token-1', expiresIn: 600_000 })).token;
    const cli = spawn(process.execPath, [join(import.meta.dirname, '../../bin/meshgate.js'), 'token', 'create', '--jti', 'cli-token-0001', '--expires-in', '10m'], {
      env: { PATH: process.env.PATH ?? '', MESHGATE_ADMIN_KEY: adminKey }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    expect(await new Promise((r) => cli.on('exit', r))).toBe(0);
    const fromCli = out.trim().split('\n').find((l) => l.startsWith('mg-'))!;
    for (const token of [fromLibrary, fromApi, fromCli]) {
      expect(token).toMatch(/^mg-[0-9a-f]{16}\./);
      const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: token, maxRetries: 0 });
      expect((await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'token' }] })).choices[0]!.message.content).toContain('says: token');
      const anthropic = new Anthropic({ baseURL: url, apiKey: token, maxRetries: 0 });
      expect((await anthropic.messages.create({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'token' }] })).content[0]!.type).toBe('text');
    }
  });

  it('refuses missing, tampered, expired, wrong-key and alg:none tokens with 401 saying which', async () => {
    expect(await errorCode(await fetch(`${url}/v1/models`))).toBe('missing_credentials');
    const good = await generateGatewayToken(adminKey, { jti: 'tamper-token-1', expiresIn: 600_000 });
    const [prefix, header, payload] = good.split('.');
    const tampered = `${prefix}.${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), models: ['*'] })).toString('base64url')}.${good.split('.')[3]}`;
    expect(await errorCode(await chat(tampered))).toBe('token_bad_signature');
    const expired = await generateGatewayToken(adminKey, { jti: 'expired-token-1', exp: Date.now() - 120_000 }, { now: Date.now() - 600_000 });
    expect(await errorCode(await chat(expired))).toBe('token_expired');
    const otherKey = (await import('../../src/auth/index.js')).AdminKey.generate();
    const foreign = await generateGatewayToken(otherKey.secret.reveal(), { jti: 'foreign-token-1' });
    expect(await errorCode(await chat(foreign))).toBe('token_wrong_gateway');
    const none = `${prefix}.${Buffer.from(JSON.stringify({ alg: 'none', typ: 'mg-access+jwt' })).toString('base64url')}.${payload}.`;
    expect((await chat(none)).status).toBe(401);
  });

  it('revocation is effective at once and survives a restart', async () => {
    const { token, id } = await mintViaApi({ jti: 'revoke-me-please', expiresIn: 600_000 });
    expect((await chat(token)).status).toBe(200);
    const revoked = await fetch(`${url}/v1/admin/tokens/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${adminKey}` } });
    expect(revoked.status).toBe(200);
    expect(await errorCode(await chat(token))).toBe('token_revoked');
    await node.close();
    await start();
    expect(await errorCode(await chat(token))).toBe('token_revoked');
  });

  it('403 for a model, an origin or a country that is not allowed, saying which', async () => {
    const token = await generateGatewayToken(adminKey, { jti: 'rules-token-1', models: ['gpt-4o-mini'], domains: ['myapp.com', '*.myapp.com'], blockedCountries: ['DE'] });
    const ok = await chat(token, { origin: 'https://shop.myapp.com' }, 'gpt-4o-mini');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://shop.myapp.com');
    expect(await errorCode(await chat(token, { origin: 'https://shop.myapp.com' }, 'gpt-4o'))).toBe('model_not_allowed');
    // Tokens without domains exist on this node, so the pre-auth CORS answer allows any origin; the refusal of an
    // origin-bound token must still not be readable by the foreign page.
    expect((await mintViaApi({ expiresIn: 600_000 })).token).toBeTruthy();
    const foreign = await chat(token, { origin: 'https://evil.example' }, 'gpt-4o-mini');
    expect(await errorCode(foreign)).toBe('origin_not_allowed');
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(foreign.headers.get('access-control-expose-headers')).toBeNull();
    // A German address (checked against the bundled database first) behind trust_proxy.
    const german = '5.9.0.1';
    expect(node.access.authenticator.country(german)).toBe('DE');
    const blocked = await chat(token, { origin: 'https://myapp.com', 'x-forwarded-for': german }, 'gpt-4o-mini');
    expect(blocked.status).toBe(403);
    expect(((await blocked.json()) as { error: { message: string } }).error.message).toContain('DE');
  });
});

describe('quotas', () => {
  it('50 parallel requests against a limit of 10 admit exactly 10; the rest get 429 with Retry-After naming the limit', async () => {
    const token = await generateGatewayToken(adminKey, { jti: 'burst-token-1', requests: { limit: 10, period: 'hour' } });
    const responses = await Promise.all(Array.from({ length: 50 }, () => chat(token)));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(10);
    const limited = responses.filter((r) => r.status === 429);
    expect(limited).toHaveLength(40);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited[0]!.headers.get('x-ratelimit-limit')).toBe('10');
    expect(limited[0]!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(((await limited[0]!.json()) as { error: { code: string } }).error.code).toBe('requests_limit_exceeded');
    // Headers on success show what remains.
    const fresh = await generateGatewayToken(adminKey, { jti: 'burst-token-2', requests: { limit: 3, period: 'day' } });
    expect((await chat(fresh)).headers.get('x-ratelimit-remaining-requests')).toBe('2');
    // A restart resets nothing.
    await node.close();
    await start();
    expect((await chat(token)).status).toBe(429);
    expect((await chat(fresh)).headers.get('x-ratelimit-remaining-requests')).toBe('1');
  });

  it('per-IP quotas count each client address separately', async () => {
    const token = await generateGatewayToken(adminKey, { jti: 'per-ip-token-1', ipQuota: { limit: 2, period: 'hour' } });
    // node:http binds the client socket to another loopback address (undici's connector ignores localAddress).
    const send = (localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'ip' }] });
        const req = httpRequest(`${url}/v1/chat/completions`, { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    expect([await send('127.0.0.2'), await send('127.0.0.2'), await send('127.0.0.2')]).toEqual([200, 200, 429]);
    expect(await send('127.0.0.3')).toBe(200);
  });
});

describe('virtual keys', () => {
  it('a virtual key selects its provider key; the client key never goes upstream; unknown keys get 401', async () => {
    mock.reset();
    const res = await chat(VIRTUAL_KEY);
    // The mock only accepts TEST_KEY, so the mapped team key is refused upstream: proof it was the one sent.
    expect(res.status).toBe(502);
    const sent = mock.requests.at(-1)!;
    expect(sent.headers.authorization).toBe('Bearer team-a-provider-key');
    expect(JSON.stringify(sent)).not.toContain(VIRTUAL_KEY);
    expect((await chat('not-a-known-key-at-all-0000')).status).toBe(401);
  });

  it('GET /v1/admin/keys lists each virtual key with its limits and remaining quota, never its key or provider keys', async () => {
    const response = await fetch(`${url}/v1/admin/keys`, { headers: { authorization: `Bearer ${adminKey}` } });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).not.toContain(VIRTUAL_KEY);
    expect(text).not.toContain('team-a-provider-key');
    const [key] = (JSON.parse(text) as { data: Array<Record<string, unknown>> }).data;
    expect(key).toMatchObject({
      id: expect.stringMatching(/^vk_[0-9a-f]{12}$/), label: 'team-a', providers: ['openai'], limits: { requests: { limit: 1000, period: 'day' } },
      usage: { requests: { limit: 1000, period: 'day' } },
    });
    // The window as the quota store counts it (this key's requests fail upstream here, so their reservations are released).
    const requests = (key!.usage as { requests: { used: number; remaining: number; resetAt: number } }).requests;
    expect(requests.used + requests.remaining).toBe(1000);
    expect(requests.resetAt).toBeGreaterThan(Date.now());
    expect((await fetch(`${url}/v1/admin/keys`)).status).toBe(401);
  });
});

describe('limits a client cannot dodge', () => {
  it('counts a request the client abandoned after it went upstream', async () => {
    const { token } = await mintViaApi({ requests: { limit: 2, period: 'day' } });
    mock.enqueue({ kind: 'hang' });
    const seen = mock.requests.length;
    const leaving = new AbortController();
    const abandoned = fetch(`${url}/v1/chat/completions`, {
      method: 'POST', signal: leaving.signal, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'I will not wait' }] }),
    }).catch(() => undefined);
    await mock.waitForRequests(seen + 1);
    leaving.abort();
    await abandoned;
    // The abandoned request took one of the two; one is left, then the limit answers.
    await expect.poll(async () => (await chat(token)).status, { timeout: 5_000, interval: 50 }).toBe(200);
    const refused = await chat(token);
    expect(refused.status).toBe(429);
  });

  it('refuses a cost-limited credential a model whose price is unknown, instead of not counting its cost', async () => {
    const { token } = await mintViaApi({ cost: { limit: 0.000001 } });
    const res = await chat(token, {}, 'acme-llm-1');
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe('cost_unknown');
    const unlimited = (await mintViaApi({})).token;
    expect((await chat(unlimited, {}, 'acme-llm-1')).status).toBe(200);
  });
});

