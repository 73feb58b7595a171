import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { AdminKey } from '../../../src/auth/index.js';
import { generateGatewayToken } from '../../../src/index.js';
import { startMockUpstream, type MockUpstream } from '../../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { describeWithSystemComponent, REDIS_SERVER } from '../../helpers/system-component.js';

/**
 * Three replicas of one gateway (same admin key, each its own data directory) on one real redis-server, driven over
 * HTTP: limits and revocations hold across them, and Redis going away refuses requests until it is back.
 */
describeWithSystemComponent(REDIS_SERVER, 'replicas sharing state on Redis', (binary) => {
  let redis: RedisServer;
  let mock: MockUpstream;
  let replicas: TestGateway[];
  const adminKey = AdminKey.generate().secret.reveal();

  beforeAll(async () => {
    redis = await startRedisServer(binary);
    mock = await startMockUpstream();
    mock.setDefault({ kind: 'ok' });
    replicas = await Promise.all([0, 1, 2].map(() => startTestGateway([mockProviders(mock).openai], {
      auth: { mode: ['token'], admin_key: adminKey },
      state: { backend: 'redis', url: redis.url, key_prefix: 'replicas:', timeout_ms: 500 },
    })));
  }, 30_000);
  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.close()));
    await mock?.close();
    await redis?.close();
  });

  const chat = (replica: TestGateway, token: string) =>
    fetch(`${replica.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
  const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  it('admits exactly 10 of 50 concurrent requests spread over three replicas against a limit of 10', async () => {
    const token = await generateGatewayToken(adminKey, { jti: 'replica-burst', requests: { limit: 10, period: 'hour' } });
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(replicas[i % 3]!, token)));
    const statuses = responses.map((r) => r.status);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
  }, 30_000);

  it('refuses a token revoked at one replica at the others on their next request', async () => {
    const token = await generateGatewayToken(adminKey, { jti: 'replica-revoke', expiresIn: 600_000 });
    for (const replica of replicas) expect((await chat(replica, token)).status).toBe(200);
    const revoked = await fetch(`${replicas[0]!.url}/v1/admin/tokens/replica-revoke`, { method: 'DELETE', headers: { authorization: `Bearer ${adminKey}` } });
    expect(revoked.status).toBe(200);
    for (const replica of replicas.slice(1)) expect(await codeOf(await chat(replica, token))).toBe('token_revoked');
  });

  it('shows the backend in /health and its latency in /metrics', async () => {
    const health = (await (await fetch(`${replicas[1]!.url}/health`)).json()) as { state: { backend: string; status: string } };
    expect(health.state).toMatchObject({ backend: 'redis', status: 'ok' });
    const metrics = await (await fetch(`${replicas[1]!.url}/metrics`)).text();
    expect(metrics).toMatch(/meshgate_state_operation_seconds_count\{backend="redis",operation="reserve"\} [1-9]/);
    expect(metrics).toContain('meshgate_state_backend_up{backend="redis"} 1');
  });

  it('answers 503 state_unavailable with Retry-After while Redis is stopped, and serves again when it returns', async () => {
    const token = await generateGatewayToken(adminKey, { jti: 'replica-outage', requests: { limit: 100, period: 'hour' } });
    expect((await chat(replicas[2]!, token)).status).toBe(200);
    await redis.stop();
    const refused = await chat(replicas[2]!, token);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    const body = await refused.text();
    expect(body).toContain('state_unavailable');
    expect(body).not.toContain(String(redis.port));
    await vi.waitFor(async () => {
      const health = (await (await fetch(`${replicas[2]!.url}/health`)).json()) as { state: { status: string } };
      expect(health.state.status).toBe('unavailable');
    }, { timeout: 5_000, interval: 50 });
    await redis.restart();
    await vi.waitFor(async () => expect((await chat(replicas[2]!, token)).status).toBe(200), { timeout: 10_000, interval: 100 });
  }, 30_000);
});
