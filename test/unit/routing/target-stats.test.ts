import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { TargetStats } from '../../../src/router/target-stats.js';

describe('measured target signals', () => {
  it('keeps percentiles over a sliding window, an EWMA of the duration and of success', () => {
    const stats = new TargetStats();
    for (let i = 1; i <= 200; i++) stats.observe('a/m', { ok: true, durationMs: i, ttftMs: i / 2 });
    const s = stats.signals('a/m');
    // The window holds the last 128 samples (73..200): p50 is 136.
    expect(s.durationP50).toBe(136);
    expect(s.ttftP50).toBe(68);
    expect(s.successRate).toBe(1);
    stats.observe('a/m', { ok: false, durationMs: 5 });
    expect(stats.signals('a/m').successRate).toBeCloseTo(0.8);
    expect(stats.signals('a/m').durationP50).toBe(136); // failures do not count as fast answers
    expect(stats.signals('b/m')).toEqual({ samples: 0 });
  });

  it('answers the nearest-rank percentiles of the last 128 samples after every sample, in any order and with repeats', () => {
    const stats = new TargetStats();
    const window: number[] = [];
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const rank = (p: number) => {
      const sorted = [...window].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
    };
    for (let i = 0; i < 600; i++) {
      // Few distinct values, so the window holds many repeats and an evicted sample has equal neighbours.
      const durationMs = Math.floor(next() * 40) * 5;
      stats.observe('a/m', { ok: true, durationMs });
      window.push(durationMs);
      if (window.length > 128) window.shift();
      const s = stats.signals('a/m');
      expect([s.durationP50, s.durationP95]).toEqual([rank(50), rank(95)]);
    }
  });

  it('seeds the latency EWMA with the median of the first five answers, and forgets a stale one', () => {
    let now = 0;
    const stats = new TargetStats(() => now);
    for (const ms of [900, 20, 22, 18, 21]) {
      expect(stats.signals('a/m').latencyEwma).toBeUndefined(); // warming up: explored first
      stats.observe('a/m', { ok: true, durationMs: ms });
    }
    expect(stats.signals('a/m').latencyEwma).toBe(21); // the cold first answer does not dominate
    now = 61_000;
    expect(stats.signals('a/m').latencyEwma).toBeUndefined(); // not refreshed for a minute: measured again
    // Each read answers the target as it is now: a failure moves the success rate, a success refreshes the EWMA.
    const before = stats.signals('a/m');
    stats.observe('a/m', { ok: false, durationMs: 5 });
    expect(stats.signals('a/m').successRate).toBeLessThan(before.successRate!);
    expect(stats.signals('a/m').samples).toBe(before.samples + 1);
    stats.observe('a/m', { ok: true, durationMs: 20 });
    expect(stats.signals('a/m').latencyEwma).toBeCloseTo(20.8);
  });
});

describe('[[models]] and routing config', () => {
  const providers = [{ id: 'a', type: 'openai', api_key: 'k', models: ['m'] }];
  it('accepts groups, aliases, profiles and fallbacks', () => {
    const config = parseConfig({
      providers,
      models: [{ name: 'fast', strategy: 'latency', targets: [{ provider: 'a', model: 'm', weight: 2 }, { provider: 'peer:*' }], aliases: ['quick'] }, { name: 'm-2024', alias_of: 'm' }],
      routing: { profiles: { mine: { weights: { price: 1 }, local_only: true } }, fallbacks: { content_policy: ['fast'] } },
    }, 'test', {});
    expect(config.models[0]!.targets![0]!.weight).toBe(2);
    expect(config.routing.profiles.mine!.strategy).toBe('score');
  });

  it('refuses unknown providers and profiles, duplicate names, entries that are both or neither, alias cycles', () => {
    const bad = (models: unknown[]) => () => parseConfig({ providers, models }, 'test', {});
    expect(bad([{ name: 'g', targets: [{ provider: 'nope', model: 'm' }] }])).toThrow(/unknown provider "nope"/);
    expect(bad([{ name: 'g', profile: 'nope', targets: [{ provider: 'a' }] }])).toThrow(/unknown profile "nope"/);
    expect(bad([{ name: 'g', targets: [{ provider: 'a' }] }, { name: 'g', alias_of: 'm' }])).toThrow(/defined twice/);
    expect(bad([{ name: 'g' }])).toThrow(/either `targets`/);
    expect(bad([{ name: 'x', alias_of: 'y' }, { name: 'y', alias_of: 'x' }])).toThrow(/leads back to itself/);
  });
});
