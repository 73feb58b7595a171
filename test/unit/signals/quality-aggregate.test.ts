import { describe, expect, it } from 'vitest';
import { QualityAggregate, type QualitySignal } from '../../../src/signals/index.js';

const HOUR = 3_600_000;

function signal(score: number, time: number, extra: Partial<QualitySignal> = {}): QualitySignal {
  return {
    request_id: `req_${time}_${score}`, time, signal: score >= 0.5 ? 'thumbs_up' : 'thumbs_down', score, note: null,
    by: { kind: 'token', id: 't' }, principal: { kind: 'token', id: 't' }, project: null, requested_model: 'm', model: 'm',
    target: 'openai', profile: null, ...extra,
  };
}

describe('QualityAggregate', () => {
  it('is the decayed mean: a signal one half-life old weighs half a fresh one', () => {
    let now = 10 * HOUR;
    const aggregate = new QualityAggregate({ halfLifeMs: HOUR, minWeight: 0.01, now: () => now });
    aggregate.add(signal(0, now - HOUR)); // weight 0.5
    aggregate.add(signal(1, now)); // weight 1
    expect(aggregate.scoreOf('openai', 'm')).toBeCloseTo(1 / 1.5, 9);
    // Decay to later times keeps the ratio: both fade at the same rate.
    now += 5 * HOUR;
    expect(aggregate.scoreOf('openai', 'm')).toBeCloseTo(1 / 1.5, 9);
  });

  it('answers only with enough recent weight', () => {
    let now = 0;
    const aggregate = new QualityAggregate({ halfLifeMs: HOUR, minWeight: 2, now: () => now });
    aggregate.add(signal(1, 0));
    expect(aggregate.scoreOf('openai', 'm')).toBeUndefined();
    aggregate.add(signal(1, 0));
    expect(aggregate.scoreOf('openai', 'm')).toBe(1);
    now = HOUR; // weight 1 now
    expect(aggregate.scoreOf('openai', 'm')).toBeUndefined();
  });

  it('takes a replaced signal out exactly, whenever it is removed', () => {
    let now = 0;
    const aggregate = new QualityAggregate({ halfLifeMs: HOUR, minWeight: 0.1, now: () => now });
    const old = signal(0, 0);
    aggregate.add(old);
    aggregate.add(signal(1, 0));
    now = 2 * HOUR;
    aggregate.remove(old);
    aggregate.add(signal(1, now, { request_id: old.request_id }));
    expect(aggregate.scoreOf('openai', 'm')).toBeCloseTo(1, 9);
    expect(aggregate.groups()[0]!.weight).toBeCloseTo(1.25, 9);
  });

  it('keeps targets, models and profiles apart, falling back to all profiles', () => {
    const aggregate = new QualityAggregate({ halfLifeMs: HOUR, minWeight: 1, now: () => 0 });
    aggregate.add(signal(1, 0, { profile: 'coding' }));
    aggregate.add(signal(0, 0, { profile: 'cheap' }));
    aggregate.add(signal(0, 0, { target: 'peer:12D3KooW' }));
    expect(aggregate.scoreOf('openai', 'm', 'coding')).toBe(1);
    expect(aggregate.scoreOf('openai', 'm', 'cheap')).toBe(0);
    expect(aggregate.scoreOf('openai', 'm', 'fast')).toBe(0.5);
    expect(aggregate.scoreOf('openai', 'm')).toBe(0.5);
    expect(aggregate.scoreOf('peer:12D3KooW', 'm')).toBe(0);
    expect(aggregate.scoreOf('peer:*', 'm')).toBe(0);
    expect(aggregate.scoreOf('openai', 'other')).toBeUndefined();
    const routing = aggregate.forRouting();
    expect(routing.scoreOf({ provider: 'openai', model: 'm' }, 'coding')).toBe(1);
    expect(routing.scoreOf({ provider: 'peer:*', model: 'm' })).toBe(0);
  });
});
