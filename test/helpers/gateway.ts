import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { Outcome } from '../../src/pipeline/types.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';

export const TEST_KEY = 'test-key';

/** Provider config blocks pointing at one mock upstream, one per provider type. */
export function mockProviders(mock: MockUpstream) {
  return {
    openai: { id: 'openai', type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'] },
    anthropic: { id: 'anthropic', type: 'anthropic', base_url: mock.anthropicBaseUrl, api_key: TEST_KEY, models: ['claude-sonnet-4-5'] },
    gemini: { id: 'gemini', type: 'gemini', base_url: mock.geminiBaseUrl, api_key: TEST_KEY, models: ['gemini-2.5-flash', 'text-embedding-004'] },
    azure: { id: 'azure', type: 'azure_openai', base_url: mock.azureEndpoint, api_key: TEST_KEY, deployment: 'prod-4o', models: ['gpt-4o-azure'] },
  } satisfies Record<string, Record<string, unknown>>;
}

/** A mock upstream and a public test node serving every provider type of `mockProviders` from it. */
export async function startMockedGateway(): Promise<{ mock: MockUpstream; node: TestGateway }> {
  const mock = await startMockUpstream();
  const p = mockProviders(mock);
  return { mock, node: await startTestGateway([p.openai, p.anthropic, p.gemini, p.azure]) };
}

export interface TestGateway {
  gateway: Gateway;
  url: string;
  /** Every completed request's outcome, in completion order. */
  outcomes: Outcome[];
  /** Resolves once at least `n` requests have completed (bounded by `timeoutMs`). */
  waitForOutcomes(n: number, timeoutMs?: number): Promise<Outcome[]>;
  close(): Promise<void>;
}

/** Starts a real node on 127.0.0.1 (port 0) with a throw-away data dir. `extra` merges into the config. */
export async function startTestGateway(providers: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-test-'));
  const { server, routing, ...rest } = extra as { server?: object; routing?: object };
  const config = parseConfig(
    {
      server: { host: '127.0.0.1', port: 0, shutdown_grace_seconds: 2, ...server },
      storage: { dir },
      routing: { backoff_ms: 1, ...routing },
      providers,
      ...rest,
    },
    'test config',
    {},
  );
  const gateway = await Gateway.start(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  const outcomes: Outcome[] = [];
  const waiters = new Set<() => void>();
  gateway.onComplete((o) => {
    outcomes.push(o);
    for (const wake of waiters) wake();
  });
  const waitForOutcomes = (n: number, timeoutMs = 5_000) =>
    new Promise<Outcome[]>((resolve, reject) => {
      const check = () => {
        if (outcomes.length < n) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(outcomes);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`only ${outcomes.length} of ${n} requests completed within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const url = gateway.url;
  return {
    gateway,
    url,
    outcomes,
    waitForOutcomes,
    close: async () => {
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One mock upstream and a node serving the providers built on it, started before the file's tests and closed at the
 * end. Read the fields inside tests or hooks.
 */
export function mockAndNode(providers: (mock: MockUpstream) => Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  const ctx = {} as { mock: MockUpstream; node: TestGateway };
  beforeAll(async () => {
    ctx.mock = await startMockUpstream();
    ctx.node = await startTestGateway(providers(ctx.mock), extra);
  });
  afterAll(async () => {
    await ctx.node?.close();
    await ctx.mock?.close();
  });
  return ctx;
}

/**
 * Two mock upstreams and a node configured with them (typically a primary provider and a backup for the same model),
 * started before the file's tests, reset after each and closed at the end. Read the fields inside tests or hooks.
 */
export function primaryAndBackup(providers: (primary: MockUpstream, backup: MockUpstream) => Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  const ctx = {} as { primary: MockUpstream; backup: MockUpstream; node: TestGateway };
  beforeAll(async () => {
    ctx.primary = await startMockUpstream();
    ctx.backup = await startMockUpstream();
    ctx.node = await startTestGateway(providers(ctx.primary, ctx.backup), extra);
  });
  afterEach(() => {
    ctx.primary.reset();
    ctx.backup.reset();
  });
  afterAll(async () => {
    await ctx.node?.close();
    await ctx.primary?.close();
    await ctx.backup?.close();
  });
  return ctx;
}
