import { describe, expect, it } from 'vitest';
import { authConfigSchema } from '../../../src/auth/index.js';
import { Secret } from '../../../src/core/index.js';

describe('authConfigSchema', () => {
  it('defaults to public mode with no limits', () => {
    expect(authConfigSchema.parse({})).toEqual({ mode: ['public'], public_limits: {}, unknown_country: 'allow', clock_skew_seconds: 30, cors_origins: [] });
  });

  it('accepts a mode or a list of modes, wraps the admin key and maps snake_case limits onto token claims', () => {
    const config = authConfigSchema.parse({
      mode: ['token', 'key', 'token'],
      admin_key: 'sk-meshgate-placeholder',
      public_limits: { ip_quota: { limit: 10, period: 'hour' }, allowed_countries: ['us'], models: ['gpt-4o*'] },
    });
    expect(config.mode).toEqual(['token', 'key']);
    expect(config.admin_key).toBeInstanceOf(Secret);
    expect(JSON.stringify(config)).not.toContain('placeholder');
    expect(config.public_limits).toEqual({ ipQuota: { limit: 10, period: 'hour' }, allowedCountries: ['US'], models: ['gpt-4o*'] });
  });

  it('rejects unknown keys and bad values with the path', () => {
    expect(() => authConfigSchema.parse({ modes: 'token' })).toThrow(/modes/);
    expect(() => authConfigSchema.parse({ mode: 'open' })).toThrow();
    expect(() => authConfigSchema.parse({ public_limits: { ipQuota: { limit: 1, period: 'day' } } })).toThrow(/ipQuota/);
    expect(() => authConfigSchema.parse({ unknown_country: 'maybe' })).toThrow();
    expect(() => authConfigSchema.parse({ cors_origins: ['https://x.com'] })).toThrow(/host name/);
  });
});
