import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { AdminKey } from '../../../src/auth/index.js';
import { generateGatewayToken } from '../../../src/index.js';
import { startMockUpstream, type MockUpstream } from '../../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { PROCESS_TEST_TIMEOUT_MS, startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { describeWithSystemComponent, REDIS_SERVER } from '../../helpers/system-component.js';

const TTL_SECONDS = 5;

/**
 * A replica in its own process, killed with SIGKILL while a request it admitted is still upstream: nothing settles or
 * releases that reservation, so it holds the token's only request until `reservation_ttl_seconds` have passed, and
 * then the counter is free again at the other replica.
 */
describeWithSystemComponent(REDIS_SERVER, 'a replica killed mid-request', (binary) => {
  let redis: RedisServer;
  let mock: MockUpstream;
  let dir: string;
  let doomed: NodeProcess | undefined;
  let survivor: TestGateway;
  const adminKey = AdminKey.generate().secret.reveal();
  const state = { backend: 'redis', url: '', key_prefix: 'sigkill:', timeout_ms: 5_000, reservation_ttl_seconds: TTL_SECONDS };

  beforeAll(async () => {
    redis = await startRedisServer(binary);
    mock = await startMockUpstream();
    dir = await mkdtemp(join(tmpdir(), 'meshgate-sigkill-'));
    state.url = redis.url;
    doomed = await startNodeProcess(mock, dir, {
      config: [
        '[auth]', 'mode = "token"', `admin_key = "${adminKey}"`,
        '[state]', 'backend = "redis"', `url = "${redis.url}"`, `key_prefix = "${state.key_prefix}"`, `timeout_ms = ${state.timeout_ms}`, `reservation_ttl_seconds = ${TTL_SECONDS}`,
      ],
    });
    survivor = await startTestGateway([mockProviders(mock).openai], { auth: { mode: ['token'], admin_key: adminKey }, state });
  }, PROCESS_TEST_TIMEOUT_MS);
  afterAll(async () => {
    if (doomed && doomed.child.exitCode === null && doomed.child.signalCode === null) doomed.child.kill('SIGKILL');
    await survivor?.close();
    await mock?.close();
    await redis?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const chat = (url: string, token: string, signal?: AbortSignal) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), signal,
    });

  it('leaves its reservation to expire after reservation_ttl_seconds, and the counter is free again', async () => {
    const token = await generateGatewayToken(adminKey, { jti: 'killed-mid-request', requests: { limit: 1, period: 'hour' } });
    mock.setDefault({ kind: 'hang' });
    const inFlight = new AbortController();
    const admittedBefore = Date.now();
    const pending = chat(doomed!.url, token, inFlight.signal).catch(() => undefined);
    await mock.waitForRequests(1, 30_000);
    doomed!.child.kill('SIGKILL');
    expect(await doomed!.exited).toBeNull();
    inFlight.abort();
    await pending;
    mock.setDefault({ kind: 'ok' });

    // The dead replica's reservation still holds the one request the token has…
    const held = await chat(survivor.url, token);
    expect(held.status).toBe(429);
    await held.arrayBuffer();
    // …until its TTL has run out: then the other replica admits the token again.
    let admitted: Response | undefined;
    await vi.waitFor(async () => {
      const res = await chat(survivor.url, token);
      if (res.status !== 200) await res.arrayBuffer();
      expect(res.status).toBe(200);
      admitted = res;
    }, { timeout: (TTL_SECONDS + 10) * 1000, interval: 100 });
    expect(Date.now() - admittedBefore).toBeGreaterThanOrEqual(TTL_SECONDS * 1000);
    await admitted!.arrayBuffer();
  }, PROCESS_TEST_TIMEOUT_MS);
});
