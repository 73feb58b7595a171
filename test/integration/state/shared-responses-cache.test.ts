import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { AdminKey } from '../../../src/auth/index.js';
import { RedisResponseCache, type CachedAnswer } from '../../../src/cache/index.js';
import { RedisResponseStore, type StoredResponse } from '../../../src/responses/index.js';
import { generateGatewayToken } from '../../../src/index.js';
import { stateConfigSchema } from '../../../src/state/index.js';
import { RedisState } from '../../../src/state/redis-state.js';
import { startMockUpstream, type MockUpstream } from '../../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { describeWithSystemComponent, REDIS_SERVER } from '../../helpers/system-component.js';

/**
 * Two replicas on one real redis-server share stored Responses objects and the response cache: what one stored is
 * read, continued and deleted at the other; an answer cached at one is a hit at the other.
 */
describeWithSystemComponent(REDIS_SERVER, 'stored responses and the response cache shared on Redis', (binary) => {
  let redis: RedisServer;
  let mock: MockUpstream;
  let replicas: TestGateway[];
  let clients: OpenAI[];
  let token: string;
  const adminKey = AdminKey.generate().secret.reveal();

  beforeAll(async () => {
    redis = await startRedisServer(binary);
    mock = await startMockUpstream();
    replicas = await Promise.all([0, 1].map(() => startTestGateway([mockProviders(mock).openai, mockProviders(mock).anthropic], {
      auth: { mode: ['token'], admin_key: adminKey },
      state: { backend: 'redis', url: redis.url, key_prefix: 'shared:', timeout_ms: 5_000 },
      cache: { enabled: true },
    })));
    token = await generateGatewayToken(adminKey, { jti: 'shared-owner', expiresIn: 600_000 });
    clients = replicas.map((r) => new OpenAI({ baseURL: `${r.url}/v1`, apiKey: token, maxRetries: 0 }));
  }, 30_000);
  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.close()));
    await mock?.close();
    await redis?.close();
  });

  it('retrieves at replica B a response stored at replica A, and continues it there with previous_response_id', async () => {
    const [a, b] = clients as [OpenAI, OpenAI];
    const first = await a.responses.create({ model: 'gpt-4o', input: 'my name is Ada' });
    expect((await b.responses.retrieve(first.id)).output_text).toBe(first.output_text);
    const second = await b.responses.create({ model: 'claude-sonnet-4-5', previous_response_id: first.id, input: 'what is my name?' });
    expect(second.status).toBe('completed');
    const upstream = mock.requests.at(-1)!;
    expect(upstream.body.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(upstream.body.messages[0])).toContain('my name is Ada');
    // The chain continues at A from the turn stored at B.
    const third = await a.responses.create({ model: 'gpt-4o', previous_response_id: second.id, input: 'thanks' });
    expect(mock.requests.at(-1)!.body.input).toHaveLength(5);
    expect(third.status).toBe('completed');
    // An item of the response stored at A, referenced by id at B.
    await b.responses.create({ model: 'gpt-4o', input: [{ type: 'item_reference', id: first.output[0]!.id! }, { role: 'user', content: 'again' }] });
    expect(JSON.stringify(mock.requests.at(-1)!.body.input[0])).toContain(first.output_text);
  });

  it('keeps a stored response its owner\'s at every replica, and a delete at one is seen at the other', async () => {
    const [a, b] = clients as [OpenAI, OpenAI];
    const stored = await a.responses.create({ model: 'gpt-4o', input: 'remember me' });
    const other = await generateGatewayToken(adminKey, { jti: 'shared-other', expiresIn: 600_000 });
    const stranger = await fetch(`${replicas[1]!.url}/v1/responses/${stored.id}`, { headers: { authorization: `Bearer ${other}` } });
    expect(stranger.status).toBe(404);
    await b.responses.delete(stored.id);
    const gone = await fetch(`${replicas[0]!.url}/v1/responses/${stored.id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(gone.status).toBe(404);
  });

  it('serves at replica B, without an upstream call, the answer replica A cached', async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'cache me across replicas' }] });
    const chat = (replica: TestGateway) => fetch(`${replica.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-meshgate-cache': 'use' }, body,
    });
    const first = await chat(replicas[0]!);
    expect(first.headers.get('x-meshgate-cache')).toBe('miss');
    const answer = await first.json();
    const upstreamCalls = mock.requests.length;
    // The entry is written once the answer completed: a bounded wait for it to be a hit at B.
    await vi.waitFor(async () => {
      const second = await chat(replicas[1]!);
      expect(second.headers.get('x-meshgate-cache')).toBe('hit');
      const content = (body: unknown) => (body as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
      expect(content(await second.json())).toBe(content(answer));
    }, { timeout: 5_000, interval: 50 });
    expect(mock.requests.length).toBe(upstreamCalls);
  });

  it('keeps the cache within max_entries across replicas, evicting the least recently used', async () => {
    const config = stateConfigSchema.parse({ backend: 'redis', url: redis.url, key_prefix: 'caps:' });
    const states = [0, 1].map(() => new RedisState({ config: { ...config, url: redis.url }, logger: pino({ level: 'silent' }) }));
    await Promise.all(states.map((s) => s.start()));
    try {
      const [x, y] = states.map((s) => new RedisResponseCache(s.redisAccess, { maxEntries: 2, maxBytes: 1_000_000 }));
      const entry = (text: string): CachedAnswer => ({
        storedAt: Date.now(), expiresAt: Date.now() + 60_000, model: 'gpt-4o',
        response: { id: text, model: 'gpt-4o', content: [{ type: 'text', text }], stopReason: 'stop', usage: { inputTokens: 1, outputTokens: 1 } } as unknown as CachedAnswer['response'],
      });
      await x!.set('k1', entry('one'), 100);
      await y!.set('k2', entry('two'), 100);
      expect((await y!.get('k1'))?.model).toBe('gpt-4o'); // k1 used last: k2 is now the least recently used
      await x!.set('k3', entry('three'), 100);
      expect(await x!.get('k2')).toBeUndefined();
      expect(await y!.get('k1')).toBeDefined();
      expect(await y!.get('k3')).toBeDefined();
      // An entry past its expiry is never served.
      await x!.set('k4', { ...entry('four'), expiresAt: Date.now() + 50 }, 100);
      await vi.waitFor(async () => expect(await y!.get('k4')).toBeUndefined(), { timeout: 5_000, interval: 20 });
    } finally {
      await Promise.all(states.map((s) => s.close()));
    }
  });

  it('expires stored responses with the retention period, and keeps a later turn\'s item when an earlier turn is deleted', async () => {
    const config = stateConfigSchema.parse({ backend: 'redis', url: redis.url, key_prefix: 'store:' });
    const state = new RedisState({ config: { ...config, url: redis.url }, logger: pino({ level: 'silent' }) });
    await state.start();
    try {
      const owner = 'token:alice';
      const turn = (id: string, createdAt: number, itemId: string): StoredResponse => ({
        id, owner, createdAt, previous: null,
        input: [{ id: itemId, type: 'message', role: 'user', content: `question ${id}` }],
        response: { id, object: 'response', output: [{ id: `out_${id}`, type: 'message', role: 'assistant', content: [] }] },
      });
      const kept30 = new RedisResponseStore(state.redisAccess, { retentionDays: 30 });
      await kept30.put(turn('resp_old', Date.now() - 31 * 86_400_000, 'in_old'));
      expect(await kept30.get('resp_old', owner)).toBeUndefined();
      const keptForever = new RedisResponseStore(state.redisAccess, { retentionDays: 0 });
      await keptForever.put(turn('resp_ancient', Date.now() - 3650 * 86_400_000, 'in_ancient'));
      expect((await keptForever.get('resp_ancient', owner))?.id).toBe('resp_ancient');
      // The client sent the same item id again in a later turn: it names the later response, which outlives the first.
      await kept30.put(turn('resp_1', Date.now(), 'in_shared'));
      await kept30.put(turn('resp_2', Date.now(), 'in_shared'));
      expect(await kept30.delete('resp_1', owner)).toBe(true);
      expect(await kept30.delete('resp_1', owner)).toBe(false);
      expect((await kept30.item('in_shared', owner))?.response.id).toBe('resp_2');
      expect(await kept30.item('in_shared', 'token:bob')).toBeUndefined();
      expect(await kept30.delete('resp_2', 'token:bob')).toBe(false);
    } finally {
      await state.close();
    }
  });

  it('refuses with 503 state_unavailable a stored response it cannot read while Redis is down, and serves it when Redis is back', async () => {
    const stored = await clients[0]!.responses.create({ model: 'gpt-4o', input: 'survive an outage' });
    await redis.stop();
    try {
      const refused = await fetch(`${replicas[1]!.url}/v1/responses/${stored.id}`, { headers: { authorization: `Bearer ${token}` } });
      expect(refused.status).toBe(503);
      const body = await refused.text();
      expect(body).toContain('state_unavailable');
      expect(body).not.toContain(String(redis.port));
    } finally {
      await redis.restart();
    }
    // redis-server keeps nothing across a restart here (no persistence): the response is gone, not refused.
    await vi.waitFor(async () => {
      const after = await fetch(`${replicas[1]!.url}/v1/responses/${stored.id}`, { headers: { authorization: `Bearer ${token}` } });
      expect(after.status).toBe(404);
    }, { timeout: 10_000, interval: 100 });
  }, 30_000);
});
