import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../../src/errors/index.js';
import { QuotaExceededError, QuotaStore, quotaWindow, type QuotaCharge } from '../../../src/policy/index.js';
import type { QuotaCounters } from '../../../src/policy/index.js';
import { RevokedDuringReserveError, stateConfigSchema } from '../../../src/state/index.js';
import { RedisState } from '../../../src/state/redis-state.js';
import { WINDOW_TEST_LUA } from '../../../src/state/redis-scripts.js';
import { Store } from '../../../src/store/index.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { describeWithSystemComponent, REDIS_SERVER } from '../../helpers/system-component.js';

const logger = pino({ level: 'silent' });
const requests = (scope: string, limit: number): QuotaCharge => ({ scope, metric: 'requests', limit, period: 'day', amount: 1 });
const tokens = (scope: string, limit: number, amount: number): QuotaCharge => ({ scope, metric: 'tokens', limit, period: 'hour', amount });

/** The same quota behaviour, whichever backend holds the counters. */
function quotaSuite(name: string, open: () => Promise<{ counters: QuotaCounters; close(): Promise<void> }>) {
  describe(`quota counters (${name})`, () => {
    let counters: QuotaCounters;
    let close: () => Promise<void>;
    beforeAll(async () => ({ counters, close } = await open()));
    afterAll(() => close());

    it('admits exactly the limit of 50 concurrent reservations', async () => {
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => counters.reserve([requests(`${name}:a`, 10)])));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(refused.every((r) => r.reason instanceof QuotaExceededError)).toBe(true);
      expect((await counters.peek(requests(`${name}:a`, 10))).used).toBe(10);
    });

    it('reserves all charges or none', async () => {
      await counters.reserve([tokens(`${name}:b`, 100, 90)]);
      await expect(counters.reserve([requests(`${name}:b`, 5), tokens(`${name}:b`, 100, 20)])).rejects.toBeInstanceOf(QuotaExceededError);
      expect((await counters.peek(requests(`${name}:b`, 5))).used).toBe(0);
    });

    it('settles the real amount once, and a release gives everything back', async () => {
      const scope = `${name}:c`;
      const held = await counters.reserve([tokens(scope, 1000, 500)]);
      expect(held.states[0]!.used).toBe(500);
      await held.settle({ tokens: 120 });
      await held.settle({ tokens: 120 });
      expect((await counters.peek(tokens(scope, 1000, 0))).used).toBe(120);
      const second = await counters.reserve([tokens(scope, 1000, 300)]);
      await second.release();
      await second.release();
      expect((await counters.peek(tokens(scope, 1000, 0))).used).toBe(120);
    });

    it('names the limit that was hit, with its use and reset', async () => {
      const scope = `${name}:d`;
      await counters.reserve([requests(scope, 1)]);
      const err = await counters.reserve([requests(scope, 1)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QuotaExceededError);
      const { state } = err as QuotaExceededError;
      expect(state.used).toBe(1);
      expect(state.remaining).toBe(0);
      expect(state.resetAt).toBe(quotaWindow('day', Date.now()).end);
    });
  });
}

quotaSuite('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-state-'));
  const store = await Store.open(dir);
  const quotas = await QuotaStore.forStore(store);
  return {
    counters: quotas,
    close: async () => {
      await quotas.flush();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describeWithSystemComponent(REDIS_SERVER, 'Redis state backend', (binary) => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer(binary);
  }, 20_000);
  afterAll(() => server?.close());

  const openRedis = async (extra: Record<string, unknown> = {}) => {
    const config = stateConfigSchema.parse({ backend: 'redis', url: server.url, key_prefix: `t${Math.random().toString(36).slice(2)}:`, timeout_ms: 500, ...extra });
    const state = new RedisState({ config: { ...config, url: config.url! }, logger });
    await state.start();
    return state;
  };

  quotaSuite('redis', async () => {
    const state = await openRedis();
    return { counters: state.quotas, close: () => state.close() };
  });

  it('keeps one count across replicas: 50 reservations spread over three clients admit exactly 10', async () => {
    const prefix = `shared${Date.now()}:`;
    const replicas = await Promise.all([0, 1, 2].map(() => openRedis({ key_prefix: prefix })));
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => replicas[i % 3]!.quotas.reserve([requests('token:x', 10)])));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    await Promise.all(replicas.map((r) => r.close()));
  });

  it('lets a reservation that is never settled expire after its TTL (a dead replica leaves no charge)', async () => {
    const state = await openRedis({ reservation_ttl_seconds: 1 });
    await state.quotas.reserve([requests('token:ttl', 1)]);
    await expect(state.quotas.reserve([requests('token:ttl', 1)])).rejects.toBeInstanceOf(QuotaExceededError);
    await vi.waitFor(async () => expect((await state.quotas.peek(requests('token:ttl', 1))).used).toBe(0), { timeout: 5_000, interval: 50 });
    await expect(state.quotas.reserve([requests('token:ttl', 1)])).resolves.toBeDefined();
    await state.close();
  });

  it('revokes at one replica and refuses at another on its next check, and in the reservation itself', async () => {
    const prefix = `rev${Date.now()}:`;
    const [a, b] = await Promise.all([openRedis({ key_prefix: prefix }), openRedis({ key_prefix: prefix })]);
    expect(await b.revocations.isRevoked('tok1')).toBe(false);
    await a.revocations!.revoke('tok1', Date.now(), Date.now() + 60_000);
    expect(await b.revocations.isRevoked('tok1')).toBe(true);
    await expect(b.quotas.reserve([requests('token:tok1', 10)], { tokenId: 'tok1' })).rejects.toBeInstanceOf(RevokedDuringReserveError);
    await Promise.all([a.close(), b.close()]);
  });

  it('logs in as an ACL user with its password, and a wrong password is refused without being echoed', async () => {
    const admin = new Redis(server.url);
    await admin.call('ACL', 'SETUSER', 'meshgate-acl', 'on', '>s3cret-acl-pass', '~acl:*', '+@all');
    admin.disconnect();
    const good = await openRedis({ key_prefix: 'acl:', username: 'meshgate-acl', password: 's3cret-acl-pass' });
    await expect(good.quotas.reserve([requests('token:acl', 5)])).resolves.toBeDefined();
    await good.close();
    const wrong = await openRedis({ key_prefix: 'acl:', username: 'meshgate-acl', password: 'not-the-pass' });
    const err = await wrong.quotas.reserve([requests('token:acl', 5)]).catch((e: unknown) => e);
    expect((err as GatewayError).code).toBe('state_unavailable');
    expect((err as GatewayError).message).not.toContain('not-the-pass');
    expect(wrong.health().status).toBe('unavailable');
    await wrong.close();
  });

  it('computes UTC windows in Lua exactly as quotaWindow does (month ends, leap years, year ends)', async () => {
    const redis = new Redis(server.url);
    const instants = ['2024-02-29T23:59:59.999Z', '2024-03-01T00:00:00.000Z', '2025-12-31T23:59:59.999Z', '2026-01-01T00:00:00.000Z', '2000-02-15T12:00:00Z', '2100-03-01T00:00:00Z', '2026-12-01T11:04:30Z'];
    for (const instant of instants) {
      const now = Date.parse(instant);
      for (const period of ['hour', 'day', 'month'] as const) {
        const [start, end] = (await redis.eval(WINDOW_TEST_LUA, 0, period, now)) as string[];
        const expected = quotaWindow(period, now);
        expect([Number(start), Number(end)], `${period} at ${instant}`).toEqual([expected.start, expected.end]);
      }
    }
    redis.disconnect();
  });

  it('fails closed while Redis is down, naming the backend and not its address, and recovers when it returns', async () => {
    const state = await openRedis();
    await state.quotas.reserve([requests('token:down', 100)]);
    expect(state.health().status).toBe('ok');
    await server.stop();
    const err = await state.quotas.reserve([requests('token:down', 100)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(503);
    expect((err as GatewayError).code).toBe('state_unavailable');
    expect((err as GatewayError).headers['retry-after']).toBeDefined();
    expect((err as GatewayError).message).toContain('redis');
    expect((err as GatewayError).message).not.toContain(String(server.port));
    await expect(state.revocations!.isRevoked('any')).rejects.toMatchObject({ code: 'state_unavailable' });
    await vi.waitFor(() => expect(state.health().status).toBe('unavailable'), { timeout: 5_000, interval: 50 });
    await server.restart();
    await vi.waitFor(() => expect(state.health().status).toBe('ok'), { timeout: 10_000, interval: 50 });
    await expect(state.quotas.reserve([requests('token:down', 100)])).resolves.toBeDefined();
    await state.close();
  }, 30_000);

  it('counts on this replica while Redis is down when on_unavailable = "local"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-state-'));
    const store = await Store.open(dir);
    const local = await QuotaStore.forStore(store);
    const config = stateConfigSchema.parse({ backend: 'redis', url: server.url, on_unavailable: 'local', timeout_ms: 500 });
    const state = new RedisState({ config: { ...config, url: config.url! }, logger, local });
    await state.start();
    await server.stop();
    try {
      await expect(state.quotas.reserve([requests('token:local', 1)])).resolves.toBeDefined();
      await expect(state.quotas.reserve([requests('token:local', 1)])).rejects.toBeInstanceOf(QuotaExceededError);
      expect(state.health().status).toBe('local');
    } finally {
      await server.restart();
      await state.close();
      await local.flush();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
