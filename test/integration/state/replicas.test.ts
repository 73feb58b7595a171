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
      state: { backend: 'redis', url: redis.url, key_prefix: 'replicas:', timeout_ms: 5_000 },
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

  /**
   * The documented over-spend bound (README, "Running several replicas"): a token or cost limit L is over-spent by at
   * most the excess (real − reserved estimate) of the requests of that credential in flight together when the last
   * one was admitted, so K concurrent clients whose requests each exceed their estimate by E end at most at L + K·E —
   * however many replicas serve them. Each request here reserves its input estimate + max_tokens (10) and really uses
   * about 100 output tokens: every one exceeds its estimate.
   */
  const overSpend = async (jti: string, limits: Record<string, unknown>, counted: (usage: { prompt_tokens: number; completion_tokens: number }) => number, metric: 'tokens' | 'cost', limit: number) => {
    mock.setDefault({ kind: 'text', text: Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ') });
    const token = await generateGatewayToken(adminKey, { jti, ...limits });
    const send = (replica: TestGateway) => fetch(`${replica.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'spend' }] }),
    });
    try {
      // One request alone shows the reserved estimate (in the remaining header) and the real use (in its usage).
      const first = await send(replicas[0]!);
      const remaining = Number(first.headers.get(`x-ratelimit-remaining-${metric}`));
      const estimate = limit - (metric === 'cost' ? Math.round(remaining * 1_000_000) : remaining);
      const real = counted(((await first.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage);
      const excess = real - estimate;
      expect(excess).toBeGreaterThan(0);
      const clients = 6;
      let spent = real;
      let refusals = 0;
      await Promise.all(Array.from({ length: clients }, async (_, k) => {
        for (let i = 0; i < 200; i++) {
          const res = await send(replicas[k % 3]!);
          if (res.status === 429) {
            refusals += 1;
            await res.arrayBuffer();
            return;
          }
          expect(res.status, await res.clone().text()).toBe(200);
          spent += counted(((await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage);
        }
      }));
      expect(refusals).toBe(clients);
      // What Redis counted is what was served, every reservation settled…
      const charge = { scope: `token:${jti}`, metric, limit, period: 'hour' as const };
      await vi.waitFor(async () => expect((await replicas[1]!.gateway.state!.quotas.peek(charge)).used).toBe(spent), { timeout: 5_000, interval: 20 });
      // …and it stays within the bound: at most one excess per concurrent client past the limit.
      expect(spent).toBeGreaterThan(limit - estimate);
      expect(spent).toBeLessThanOrEqual(limit + clients * excess);
    } finally {
      mock.setDefault({ kind: 'ok' });
    }
  };

  it('over-spends a token limit across three replicas by at most the concurrent requests\' excess over their estimate', async () => {
    await overSpend('replica-tokens', { tokens: { limit: 3_000, period: 'hour' } }, (u) => u.prompt_tokens + u.completion_tokens, 'tokens', 3_000);
  }, 60_000);

  it('over-spends a cost limit across three replicas by at most the concurrent requests\' excess over their estimate', async () => {
    const prices = replicas[0]!.gateway.priceBook;
    // Micro-dollars as the counter holds them (each request's cost rounded up to a whole micro-dollar).
    const micros = (u: { prompt_tokens: number; completion_tokens: number }) =>
      Math.ceil(prices.costOf({ providerType: 'openai', model: 'gpt-4o', usage: { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens } }).costMicros!);
    await overSpend('replica-cost', { cost: { limit: 0.03, period: 'hour' } }, micros, 'cost', 30_000);
  }, 60_000);

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
