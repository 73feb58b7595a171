import pino from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { SharedCircuitBreaker } from '../../../src/router/shared-circuit-breaker.js';
import { stateConfigSchema } from '../../../src/state/index.js';
import { RedisState } from '../../../src/state/redis-state.js';
import { startMockUpstream, type MockUpstream } from '../../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { describeWithSystemComponent, REDIS_SERVER } from '../../helpers/system-component.js';

/**
 * Two replicas on one real redis-server share their providers' circuit breakers: failures seen at one open the
 * circuit at both, one probe goes out across them, and its success closes the circuit everywhere.
 */
describeWithSystemComponent(REDIS_SERVER, 'circuit-breaker state shared on Redis', (binary) => {
  let redis: RedisServer;
  let mock: MockUpstream;
  let replicas: TestGateway[];
  const logger = pino({ level: 'silent' });
  const settings = { failureThreshold: 2, cooldownMs: 60_000, maxCooldownMs: 120_000 };

  beforeAll(async () => {
    redis = await startRedisServer(binary);
    mock = await startMockUpstream();
    replicas = await Promise.all([0, 1].map(() => startTestGateway([{ ...mockProviders(mock).openai, max_retries: 0 }], {
      state: { backend: 'redis', url: redis.url, key_prefix: 'circuits:', circuit_refresh_ms: 200 },
      routing: { circuit_breaker: { failure_threshold: 2, cooldown_ms: 400, max_cooldown_ms: 400, panic: false } },
    })));
  }, 30_000);
  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.close()));
    await mock?.close();
    await redis?.close();
  });

  const chat = (replica: TestGateway) =>
    fetch(`${replica.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
  const circuitAt = (replica: TestGateway) => replica.gateway.breakers.get('openai')!.state();

  it('opens at the other replica on failures seen at one, which then sends nothing upstream, and closes everywhere after one probe', async () => {
    mock.setDefault({ kind: 'error', status: 500 });
    for (let i = 0; i < 2; i++) expect((await chat(replicas[0]!)).status).toBe(502);
    expect(circuitAt(replicas[0]!)).toBe('open');
    // The other replica learns it from the announcement (or its next refresh), without a failure of its own.
    await vi.waitFor(() => expect(circuitAt(replicas[1]!)).toBe('open'), { timeout: 5_000, interval: 10 });
    const before = mock.requests.length;
    const refused = await chat(replicas[1]!);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('providers_unavailable');
    expect(mock.requests.length).toBe(before);

    // After the cool-down the provider is back; the probe from one replica closes the circuit at both.
    mock.setDefault({ kind: 'ok' });
    await vi.waitFor(() => expect(circuitAt(replicas[1]!)).toBe('half_open'), { timeout: 5_000, interval: 20 });
    expect((await chat(replicas[1]!)).status).toBe(200);
    await vi.waitFor(() => expect(circuitAt(replicas[0]!)).toBe('closed'), { timeout: 5_000, interval: 10 });
    expect((await chat(replicas[0]!)).status).toBe(200);
  }, 30_000);

  it('counts consecutive failures across replicas: one at each opens a circuit whose threshold is two', async () => {
    mock.setDefault({ kind: 'error', status: 500 });
    expect((await chat(replicas[0]!)).status).toBe(502);
    await vi.waitFor(async () => {
      const circuits = await replicas[1]!.gateway.state!.circuits.read(['openai'], settings);
      expect(circuits.get('openai')!.failures).toBe(1);
    }, { timeout: 5_000, interval: 20 });
    expect((await chat(replicas[1]!)).status).toBe(502);
    await vi.waitFor(() => expect(circuitAt(replicas[0]!)).toBe('open'), { timeout: 5_000, interval: 10 });
    mock.setDefault({ kind: 'ok' });
    await vi.waitFor(async () => expect((await chat(replicas[0]!)).status).toBe(200), { timeout: 5_000, interval: 50 });
  }, 30_000);

  it('grants the half-open probe to one replica only, and again once its lease (one cool-down) lapses', async () => {
    const config = stateConfigSchema.parse({ backend: 'redis', url: redis.url, key_prefix: 'probe:' });
    const stores = [0, 1].map(() => new RedisState({ config: { ...config, url: redis.url }, logger }));
    await Promise.all(stores.map((s) => s.start()));
    try {
      const quick = { failureThreshold: 1, cooldownMs: 300, maxCooldownMs: 300 };
      const opened = await stores[0]!.circuits.apply('p', 'failure', quick);
      expect(opened.circuit).toMatchObject({ state: 'open', failures: 1 });
      expect((await stores[1]!.circuits.apply('p', 'probe', quick)).granted).toBe(false);
      await vi.waitFor(async () => expect((await stores[1]!.circuits.read(['p'], quick)).get('p')!.remainingMs).toBe(0), { timeout: 5_000, interval: 20 });
      const probes = await Promise.all(stores.flatMap((s) => [s.circuits.apply('p', 'probe', quick), s.circuits.apply('p', 'probe', quick)]));
      expect(probes.filter((p) => p.granted)).toHaveLength(1);
      expect(probes[0]!.circuit.state).toBe('half_open');
      // The prober never reports (it died): another replica may probe once the lease has lapsed.
      await vi.waitFor(async () => expect((await stores[1]!.circuits.apply('p', 'probe', quick)).granted).toBe(true), { timeout: 5_000, interval: 50 });
      // A failed probe re-opens it for the doubled (here capped) cool-down; a success closes it and forgets it.
      expect((await stores[1]!.circuits.apply('p', 'failure', quick)).circuit).toMatchObject({ state: 'open', cooldownMs: 300 });
      expect((await stores[0]!.circuits.apply('p', 'success', quick)).circuit).toEqual({ state: 'closed', failures: 0, cooldownMs: 300, remainingMs: 0 });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  }, 30_000);

  it('keeps opening circuits on its own failures while Redis is away, and serves requests that need no limits', async () => {
    mock.setDefault({ kind: 'ok' });
    await vi.waitFor(() => expect(replicas.map(circuitAt)).toEqual(['closed', 'closed']), { timeout: 5_000, interval: 20 });
    await redis.stop();
    try {
      mock.setDefault({ kind: 'error', status: 500 });
      // Past the staleness bound (3 × 200 ms) the view is not trusted: the replica's own breaker counts.
      const breaker = replicas[0]!.gateway.breakers.get('openai') as SharedCircuitBreaker;
      await vi.waitFor(() => expect(breaker.trusted()).toBe(false), { timeout: 5_000, interval: 20 });
      for (let i = 0; i < 2; i++) expect((await chat(replicas[0]!)).status).toBe(502);
      expect(circuitAt(replicas[0]!)).toBe('open');
      // Nothing reached the other replica.
      expect(circuitAt(replicas[1]!)).toBe('closed');
    } finally {
      mock.setDefault({ kind: 'ok' });
      await redis.restart();
    }
  }, 30_000);
});
