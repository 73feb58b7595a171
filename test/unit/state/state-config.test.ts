import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { RedisKeys, stateConfigSchema } from '../../../src/state/index.js';

const providers = [{ id: 'openai', type: 'openai', api_key: 'k', models: ['gpt-4o'] }];
const configWith = (state: Record<string, unknown>, env: Record<string, string> = {}) => parseConfig({ providers, state }, 'test config', env);

describe('[state] config', () => {
  it('defaults to the embedded backend, failing closed', () => {
    expect(stateConfigSchema.parse({})).toMatchObject({ backend: 'embedded', on_unavailable: 'closed', key_prefix: 'meshgate:', reservation_ttl_seconds: 900, circuit_refresh_ms: 1_000 });
  });

  it('bounds how often shared circuit state is re-read', () => {
    expect(() => configWith({ circuit_refresh_ms: 10 })).toThrow(/circuit_refresh_ms/);
    expect(configWith({ circuit_refresh_ms: 250 }).state.circuit_refresh_ms).toBe(250);
  });

  it('needs a redis:// or rediss:// url for the redis backend', () => {
    expect(() => configWith({ backend: 'redis' })).toThrow(/state\.url.*required/s);
    expect(() => configWith({ backend: 'redis', url: 'http://127.0.0.1:6379' })).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(configWith({ backend: 'redis', url: 'rediss://cache.internal:6380/0' }).state.url).toBe('rediss://cache.internal:6380/0');
  });

  it('refuses credentials in the url and takes the ACL password from the environment, redacted', () => {
    expect(() => configWith({ backend: 'redis', url: 'redis://user:hunter2@127.0.0.1:6379' })).toThrow(/must not carry credentials/);
    const config = configWith({ backend: 'redis', url: 'redis://127.0.0.1:6379', username: 'meshgate', password: '${REDIS_PASSWORD}' }, { REDIS_PASSWORD: 'hunter2' });
    expect(config.state.password?.reveal()).toBe('hunter2');
    expect(JSON.stringify(config.state)).not.toContain('hunter2');
  });

  it('refuses a key prefix with braces (they would move keys out of their hash slot)', () => {
    expect(() => configWith({ key_prefix: 'a{b}:' })).toThrow(/must not contain \{ or \}/);
  });
});

describe('Redis key names', () => {
  const keys = new RedisKeys('mg:');
  it('put a token\'s counters, its per-IP counters and its revocation under one hash tag', () => {
    const tag = keys.tagOf([{ scope: 'token:abc' }, { scope: 'token:abc:ip:10.0.0.0/24' }]);
    expect(tag).toBe('token:abc');
    expect(keys.counter(tag, { scope: 'token:abc:ip:10.0.0.0/24', metric: 'ip', period: 'hour' })).toEqual([
      'mg:{token:abc}:q:token:abc:ip:10.0.0.0/24|ip|hour',
      'mg:{token:abc}:x:token:abc:ip:10.0.0.0/24|ip|hour',
    ]);
    expect(keys.revocation('abc')).toBe('mg:{token:abc}:revoked:abc');
  });

  it('put a stored response with its item index under its owner\'s tag, and the whole cache under one', () => {
    expect(keys.storedResponse('token:abc', 'resp_1')).toBe('mg:{response:token:abc}:r:resp_1');
    expect(keys.storedItem('token:abc', 'msg_1')).toBe('mg:{response:token:abc}:i:msg_1');
    expect(Object.values(keys.cache()).every((key) => key.startsWith('mg:{cache}:'))).toBe(true);
    expect(keys.circuit('open{ai}')).toBe('mg:{circuit:open_ai_}');
  });

  it('refuses charges of two principals in one reservation (their keys could sit on different Cluster nodes)', () => {
    expect(() => keys.tagOf([{ scope: 'token:a' }, { scope: 'key:b' }])).toThrow(/cannot be reserved together/);
  });
});
