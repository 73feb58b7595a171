import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../../src/errors/index.js';
import {
  candidatesFor, dropReasons, fallbackClassOf, noEligibleTarget, planRoute, profileSchema, profileTable, rankTargets, scoreTargets,
  type GroupView, type MeasuredSignals, type Profile, type RequestNeeds, type RoutingEnvironment, type Target, type TargetFacts,
} from '../../../src/routing/index.js';

const needs = (over: Partial<RequestNeeds> = {}): RequestNeeds => ({ operation: 'chat', inputTokens: 100, capabilities: [], ...over });
const profile = (id: string, raw: Record<string, unknown>): Profile => ({ ...profileSchema.parse(raw), id });

/** A node as the engine sees it: providers serving models, facts and signals per target key. */
function env(options: {
  providers?: Record<string, string[]>;
  groups?: GroupView[];
  aliases?: Record<string, string>;
  facts?: Record<string, Partial<TargetFacts>>;
  signals?: Record<string, MeasuredSignals>;
  quality?: Record<string, number>;
  peersAllowed?: boolean;
} = {}): RoutingEnvironment {
  const providers = options.providers ?? {};
  return {
    aliasOf: (name) => options.aliases?.[name],
    group: (name) => options.groups?.find((g) => g.name === name),
    providersFor: (model) => Object.keys(providers).filter((p) => providers[p]!.includes(model)).map((provider) => ({ provider, model })),
    providerServes: (p) => p in providers,
    peersAllowed: options.peersAllowed ?? false,
    facts: (t) => ({ circuit: 'closed', inFlight: 0, capacity: 10, ...options.facts?.[t.key] }),
    signals: (t) => options.signals?.[t.key] ?? { samples: 0 },
    quality: { scoreOf: (t) => options.quality?.[`${t.provider}/${t.model}`] },
  };
}

const keys = (plan: { plan: Array<{ target: Target }> }) => plan.plan.map((p) => p.target.key);

describe('candidates layer', () => {
  it('gives the providers serving a plain name in config order, then the mesh when it may be asked', () => {
    const set = candidatesFor('gpt-4o', 'chat', env({ providers: { a: ['gpt-4o'], b: ['x'], c: ['gpt-4o'] }, peersAllowed: true }));
    expect(set.candidates.map((c) => c.key)).toEqual(['a/gpt-4o', 'c/gpt-4o', 'peer:*/gpt-4o']);
  });

  it('follows an alias and expands a group, naming the targets it cannot use', () => {
    const group: GroupView = { name: 'fast', strategy: 'ordered', targets: [{ provider: 'a', model: 'm1', weight: 1 }, { provider: 'gone', model: 'm2', weight: 1 }, { provider: 'peer:*', model: 'm3', weight: 1 }] };
    const set = candidatesFor('quick', 'chat', env({ providers: { a: [] }, groups: [group], aliases: { quick: 'fast' } }));
    expect(set.name).toBe('fast');
    expect(set.candidates.map((c) => c.key)).toEqual(['a/m1']);
    expect(set.unusable.map((u) => u.target.key)).toEqual(['gone/m2', 'peer:*/m3']);
  });
});

describe('filter layer', () => {
  const target: Target = { key: 'a/m', provider: 'a', model: 'm', peer: false, weight: 1, source: 'catalog' };
  const facts = (over: Partial<TargetFacts> = {}): TargetFacts => ({ circuit: 'closed', inFlight: 0, capacity: 1, ...over });

  it('drops a target whose context window is smaller than the estimated input, or whose max output is smaller', () => {
    expect(dropReasons(target, facts({ contextWindow: 50 }), needs(), {}, undefined).map((r) => r.code)).toEqual(['context_window']);
    expect(dropReasons(target, facts({ maxOutputTokens: 10 }), needs({ maxOutputTokens: 20 }), {}, undefined).map((r) => r.code)).toEqual(['max_output']);
    expect(dropReasons(target, facts({ contextWindow: 500 }), needs(), {}, undefined)).toEqual([]);
  });

  it('drops a target lacking a capability the request or the profile requires', () => {
    const coding = profileTable({}).get('coding')!;
    expect(dropReasons(target, facts({ supports: ['images'] }), needs(), {}, coding)[0]!.message).toContain('tools');
    expect(dropReasons(target, facts({ supports: ['images'] }), needs({ capabilities: ['json_schema'] }), {}, undefined)[0]!.code).toBe('capability');
  });

  it('applies the credential pricing rules, unknown prices failing closed', () => {
    const priced = facts({ inputPrice: 2, outputPrice: 8 });
    expect(dropReasons(target, priced, needs(), { maxInputPrice: 3, maxOutputPrice: 10 }, undefined)).toEqual([]);
    expect(dropReasons(target, priced, needs(), { maxOutputPrice: 5 }, undefined).map((r) => r.code)).toEqual(['price_rule']);
    expect(dropReasons(target, facts(), needs(), { maxInputPrice: 100 }, undefined).map((r) => r.code)).toEqual(['price_rule']);
    expect(dropReasons(target, priced, needs(), { freeOnly: true }, undefined).map((r) => r.code)).toEqual(['price_rule']);
    expect(dropReasons(target, facts({ inputPrice: 0, outputPrice: 0 }), needs(), { freeOnly: true }, undefined)).toEqual([]);
  });

  it('applies the profile constraints: providers, regions, local only, max price', () => {
    const strict = profile('strict', { providers: ['b'], regions: ['eu'], local_only: true, max_price: 1 });
    const codes = dropReasons(target, facts({ region: 'us', inputPrice: 2, outputPrice: 2 }), needs(), {}, strict).map((r) => r.code);
    expect(codes).toEqual(['profile_provider', 'profile_region', 'profile_max_price']);
    const peer: Target = { ...target, key: 'peer:*/m', provider: 'peer:*', peer: true };
    expect(dropReasons(peer, facts(), needs(), {}, profile('local', { local_only: true })).map((r) => r.code)).toEqual(['profile_local_only']);
  });

  it('keeps a target with an open circuit (panic mode may still need it)', () => {
    expect(dropReasons(target, facts({ circuit: 'open' }), needs(), {}, undefined)).toEqual([]);
  });
});

describe('score layer', () => {
  it('normalises each signal across the candidates and weighs them by the profile', () => {
    const cheap = profileTable({}).get('cheap')!;
    const [a, b] = scoreTargets([
      { facts: { circuit: 'closed', inFlight: 0, capacity: 10, inputPrice: 1, outputPrice: 1 }, measured: { samples: 0 }, quality: undefined },
      { facts: { circuit: 'closed', inFlight: 5, capacity: 10, inputPrice: 9, outputPrice: 9 }, measured: { samples: 0 }, quality: 0.9 },
    ], cheap);
    expect(a!.signals.price).toBe(1);
    expect(b!.signals.price).toBe(0);
    expect(b!.signals.load).toBe(0.5);
    expect(b!.signals.quality).toBe(0.9);
    expect(a!.signals.quality).toBe(0.5); // unknown is neutral
    expect(a!.score).toBeGreaterThan(b!.score);
  });
});

describe('rank layer, per strategy', () => {
  const group = (strategy: GroupView['strategy']): GroupView => ({
    name: 'g', strategy, targets: [{ provider: 'slow', model: 'm', weight: 1 }, { provider: 'fast', model: 'm', weight: 3 }],
  });
  const node = (strategy: GroupView['strategy'], extra: Parameters<typeof env>[0] = {}) => env({ providers: { slow: [], fast: [] }, groups: [group(strategy)], ...extra });

  it('ordered keeps the config order', () => {
    expect(keys(planRoute({ model: 'g', needs: needs(), rules: {} }, node('ordered')))).toEqual(['slow/m', 'fast/m']);
  });

  it('latency puts the lowest EWMA first, and an unmeasured target before measured ones', () => {
    const signals = { 'slow/m': { samples: 5, latencyEwma: 300 }, 'fast/m': { samples: 5, latencyEwma: 20 } };
    expect(keys(planRoute({ model: 'g', needs: needs(), rules: {} }, node('latency', { signals })))).toEqual(['fast/m', 'slow/m']);
    expect(keys(planRoute({ model: 'g', needs: needs(), rules: {} }, node('latency', { signals: { 'fast/m': signals['fast/m'] } })))).toEqual(['slow/m', 'fast/m']);
  });

  it('cheapest puts the lowest blended price first, unknown prices last', () => {
    const facts = { 'slow/m': { inputPrice: 1, outputPrice: 2 }, 'fast/m': { inputPrice: 5, outputPrice: 15 } };
    expect(keys(planRoute({ model: 'g', needs: needs(), rules: {} }, node('cheapest', { facts })))).toEqual(['slow/m', 'fast/m']);
    expect(keys(planRoute({ model: 'g', needs: needs(), rules: {} }, node('cheapest', { facts: { 'fast/m': facts['fast/m'] } })))).toEqual(['fast/m', 'slow/m']);
  });

  it('least_busy puts the target with the fewest requests in flight (relative to capacity) first', () => {
    const facts = { 'slow/m': { inFlight: 1, capacity: 10 }, 'fast/m': { inFlight: 3, capacity: 10 } };
    expect(keys(planRoute({ model: 'g', needs: needs(), rules: {} }, node('least_busy', { facts })))).toEqual(['slow/m', 'fast/m']);
  });

  it('weighted puts each target first in proportion to its weight', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    let fastFirst = 0;
    for (let i = 0; i < 4000; i++) if (keys(planRoute({ model: 'g', needs: needs(), rules: {}, random }, node('weighted')))[0] === 'fast/m') fastFirst++;
    expect(fastFirst / 4000).toBeGreaterThan(0.72);
    expect(fastFirst / 4000).toBeLessThan(0.78);
  });

  it('score ranks by the profile, whose strategy wins over the group\'s', () => {
    const fast = profileTable({}).get('fast')!;
    const signals = { 'slow/m': { samples: 5, ttftP50: 400, durationP50: 900 }, 'fast/m': { samples: 5, ttftP50: 30, durationP50: 100 } };
    const plan = planRoute({ model: 'g', needs: needs(), rules: {}, profile: fast }, node('ordered', { signals }));
    expect(plan.strategy).toBe('score');
    expect(keys(plan)).toEqual(['fast/m', 'slow/m']);
  });

  it('quality signals change a quality-profile ranking', () => {
    const quality = profileTable({}).get('quality')!;
    expect(keys(planRoute({ model: 'g', needs: needs(), rules: {}, profile: quality }, node('ordered', { quality: { 'fast/m': 0.9, 'slow/m': 0.2 } })))).toEqual(['fast/m', 'slow/m']);
    expect(keys(planRoute({ model: 'g', needs: needs(), rules: {}, profile: quality }, node('ordered', { quality: { 'fast/m': 0.1, 'slow/m': 0.8 } })))).toEqual(['slow/m', 'fast/m']);
  });

  it('cheapest lets a peer whose advertised price is lower go before local targets', () => {
    const peer = { target: { key: 'peer:*/m', provider: 'peer:*', model: 'm', peer: true, weight: 1, source: 'mesh' as const }, facts: { inputPrice: 0.1, outputPrice: 0.2, circuit: 'closed' as const, inFlight: 0, capacity: 0 }, measured: { samples: 0 }, quality: undefined, score: 0 };
    const local = { target: { key: 'a/m', provider: 'a', model: 'm', peer: false, weight: 1, source: 'catalog' as const }, facts: { inputPrice: 2, outputPrice: 8, circuit: 'closed' as const, inFlight: 0, capacity: 1 }, measured: { samples: 0 }, quality: undefined, score: 0 };
    expect(rankTargets([local, peer], 'cheapest').map((i) => i.target.key)).toEqual(['peer:*/m', 'a/m']);
    expect(rankTargets([local, peer], 'ordered').map((i) => i.target.key)).toEqual(['a/m', 'peer:*/m']);
  });

  it('open circuits go last and the mesh after local targets, whatever the strategy but cheapest', () => {
    const items = [
      { target: { key: 'peer:*/m', provider: 'peer:*', model: 'm', peer: true, weight: 1, source: 'mesh' as const }, facts: { circuit: 'closed' as const, inFlight: 0, capacity: 0 }, measured: { samples: 0 }, quality: undefined, score: 1 },
      { target: { key: 'a/m', provider: 'a', model: 'm', peer: false, weight: 1, source: 'catalog' as const }, facts: { circuit: 'open' as const, inFlight: 0, capacity: 1 }, measured: { samples: 0 }, quality: undefined, score: 1 },
      { target: { key: 'b/m', provider: 'b', model: 'm', peer: false, weight: 1, source: 'catalog' as const }, facts: { circuit: 'closed' as const, inFlight: 0, capacity: 1 }, measured: { samples: 0 }, quality: undefined, score: 0 },
    ];
    expect(rankTargets(items, 'score').map((i) => i.target.key)).toEqual(['b/m', 'peer:*/m', 'a/m']);
  });

  it('leaves tiers that already ascend as they are (local providers then the mesh: no sort per request)', () => {
    const item = (key: string, peer: boolean, circuit: 'closed' | 'open') => ({ target: { key, provider: peer ? 'peer:*' : key, model: 'm', peer, weight: 1, source: 'catalog' as const }, facts: { circuit, inFlight: 0, capacity: 1 }, measured: { samples: 0 }, quality: undefined, score: 0 });
    const ascending = [item('a/m', false, 'closed'), item('peer:*/m', true, 'closed'), item('b/m', false, 'open')];
    expect(rankTargets(ascending, 'ordered')).toBe(ascending);
    const mixed = [item('b/m', false, 'open'), item('peer:*/m', true, 'closed'), item('a/m', false, 'closed')];
    expect(rankTargets(mixed, 'ordered').map((i) => i.target.key)).toEqual(['a/m', 'peer:*/m', 'b/m']);
  });

  it('scores unknown values neutral and a range of equal values 1, as before the single-pass normalisation', () => {
    const facts = (inputPrice?: number) => ({ circuit: 'closed' as const, inFlight: 0, capacity: 1, ...(inputPrice === undefined ? {} : { inputPrice, outputPrice: inputPrice }) });
    const prices = (...values: Array<number | undefined>) => scoreTargets(values.map((v) => ({ facts: facts(v), measured: { samples: 0 }, quality: undefined })), undefined).map((s) => s.signals.price);
    expect(prices(1, 3, undefined, 2)).toEqual([1, 0, 0.5, 0.5]);
    expect(prices(4, 4)).toEqual([1, 1]);
    expect(prices(undefined)).toEqual([0.5]);
    expect(prices(1, Number.NaN)).toEqual([Number.NaN, Number.NaN]);
  });
});

describe('attempt plan and refusals', () => {
  it('with nothing configured, a plain name is planned in config order (today\'s behaviour)', () => {
    const plan = planRoute({ model: 'gpt-4o', needs: needs(), rules: {} }, env({ providers: { a: ['gpt-4o'], b: ['gpt-4o'] }, peersAllowed: true }));
    expect(plan.strategy).toBe('ordered');
    expect(keys(plan)).toEqual(['a/gpt-4o', 'b/gpt-4o', 'peer:*/gpt-4o']);
  });

  it('refuses with 403 when the pricing rules dropped every target, 400 naming why otherwise', () => {
    const node = env({ providers: { a: ['m'] }, facts: { 'a/m': { inputPrice: 5, outputPrice: 5, contextWindow: 10 } } });
    const byPrice = noEligibleTarget(planRoute({ model: 'm', needs: needs({ inputTokens: 1 }), rules: { maxInputPrice: 1 } }, node));
    expect([byPrice.status, byPrice.code]).toEqual([403, 'price_not_allowed']);
    expect(byPrice.message).toContain('a/m');
    const byContext = noEligibleTarget(planRoute({ model: 'm', needs: needs({ inputTokens: 100 }), rules: {} }, node));
    expect([byContext.status, byContext.code]).toEqual([400, 'no_eligible_target']);
    expect(byContext.message).toContain('context window of 10');
  });
});

describe('fallback classes of upstream errors', () => {
  const refusal = (message: string, status = 400) => new UpstreamError('a', `Provider a answered ${status}: ${message}`, { upstreamStatus: status, retryable: false });
  it('tells a context-window error and a content-policy refusal from other 4xx', () => {
    expect(fallbackClassOf(refusal("This model's maximum context length is 8192 tokens"))).toBe('context_window');
    expect(fallbackClassOf(refusal('prompt is too long: 210000 tokens > 200000 maximum'))).toBe('context_window');
    expect(fallbackClassOf(refusal('Your request was rejected as a result of our safety system (content_policy_violation)'))).toBe('content_policy');
    expect(fallbackClassOf(refusal('temperature must be at most 2'))).toBeUndefined();
    expect(fallbackClassOf(new UpstreamError('a', 'context length', { upstreamStatus: 503, retryable: true }))).toBeUndefined();
  });
});

describe('a name pinned to a provider', () => {
  it('gives that provider alone, under the model name after the prefix, and never the mesh', () => {
    const base = env({ providers: { a: ['gpt-4o'] }, peersAllowed: true });
    const pinnedEnv: RoutingEnvironment = { ...base, providersFor: (model) => (model === 'a/gpt-4o' ? [{ provider: 'a', model: 'gpt-4o' }] : base.providersFor(model, 'chat')) };
    const set = candidatesFor('a/gpt-4o', 'chat', pinnedEnv);
    expect(set.candidates.map((c) => [c.key, c.model])).toEqual([['a/gpt-4o', 'gpt-4o']]);
    expect(candidatesFor('gpt-4o', 'chat', pinnedEnv).candidates.map((c) => c.key)).toEqual(['a/gpt-4o', 'peer:*/gpt-4o']);
  });
});
