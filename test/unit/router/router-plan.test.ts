import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { PriceBook } from '../../../src/pricing/index.js';
import { createProvider } from '../../../src/providers/index.js';
import { CircuitBreaker } from '../../../src/router/circuit-breaker.js';
import { ModelCatalog } from '../../../src/router/model-catalog.js';
import { Router } from '../../../src/router/router.js';

// The router keeps one routing snapshot (its closures) for every plan and skips the sort and the price/capability
// tests when they cannot change the answer: each plan must still see the node as it is now.
const needs = { operation: 'chat' as const, inputTokens: 100, capabilities: [] };

function node(providers: Array<{ id: string; models: string[] }>, extra: Record<string, unknown> = {}) {
  const config = parseConfig({ providers: providers.map((p) => ({ ...p, type: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1' })), ...extra }, 'test', {});
  const catalog = new ModelCatalog(config.providers.map((p) => createProvider(p)));
  const breakers = new Map(config.providers.map((p) => [p.id, new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000, maxCooldownMs: 60_000 })]));
  const priceBook = new PriceBook(config.pricing);
  const router = new Router({ catalog, breakers, models: config.models, profiles: config.routing.profiles, fallbacks: config.routing.fallbacks, priceOf: (m, p) => priceBook.priceFor(m, p.type), inFlight: () => 0 });
  return { router, catalog, breakers, config };
}
const keys = (plan: { plan: Array<{ target: { key: string } }> }) => plan.plan.map((p) => p.target.key);

describe('Router.plan sees run-time changes', () => {
  it('a provider added at run time (catalog replaced) is a candidate of the next plan', async () => {
    const { router, catalog } = node([{ id: 'a', models: ['m'] }]);
    expect(keys(router.plan({ model: 'm', needs, rules: {}, peersAllowed: false }))).toEqual(['a/m']);
    const added = parseConfig({ providers: [{ id: 'b', type: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1', models: ['m'] }] }, 'test', {});
    await catalog.replace([...catalog.providers(), createProvider(added.providers[0]!)], { discover: false });
    expect(keys(router.plan({ model: 'm', needs, rules: {}, peersAllowed: false }))).toEqual(['a/m', 'b/m']);
    await catalog.replace(catalog.providers().filter((p) => p.id !== 'a'), { discover: false });
    expect(keys(router.plan({ model: 'm', needs, rules: {}, peersAllowed: false }))).toEqual(['b/m']);
  });

  it('a model a provider discovers at run time is a candidate of the next plan (the resolved routes start over)', async () => {
    const config = parseConfig({ providers: [{ id: 'd', type: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1' }] }, 'test', {});
    const provider = createProvider(config.providers[0]!);
    let listed = ['m'];
    provider.discoverModels = async () => listed;
    const catalog = new ModelCatalog([provider]);
    const router = new Router({ catalog, breakers: new Map(), models: config.models, profiles: config.routing.profiles, fallbacks: config.routing.fallbacks, inFlight: () => 0 });
    expect(keys(router.plan({ model: 'm2', needs, rules: {}, peersAllowed: false }))).toEqual([]);
    await catalog.discover(1_000);
    expect(keys(router.plan({ model: 'm', needs, rules: {}, peersAllowed: false }))).toEqual(['d/m']);
    listed = ['m2'];
    await catalog.discover(1_000);
    expect(keys(router.plan({ model: 'm2', needs, rules: {}, peersAllowed: false }))).toEqual(['d/m2']);
    expect(keys(router.plan({ model: 'm', needs, rules: {}, peersAllowed: false }))).toEqual([]);
    expect(Object.isFrozen(catalog.resolve('m2'))).toBe(true);
  });

  it('a reload (new groups and aliases) is seen by the next plan', () => {
    const { router } = node([{ id: 'a', models: ['m'] }, { id: 'b', models: ['m'] }]);
    expect(router.plan({ model: 'fast', needs, rules: {}, peersAllowed: false }).plan).toEqual([]);
    const next = parseConfig({
      providers: [{ id: 'a', type: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1', models: ['m'] }, { id: 'b', type: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1', models: ['m'] }],
      models: [{ name: 'g', targets: [{ provider: 'b', model: 'm' }, { provider: 'a', model: 'm', context_window: 50 }], aliases: ['fast'] }],
    }, 'test', {});
    router.reconfigure({ models: next.models, profiles: next.routing.profiles, fallbacks: next.routing.fallbacks });
    const plan = router.plan({ model: 'fast', needs, rules: {}, peersAllowed: false });
    expect(plan.group).toBe('g');
    expect(keys(plan)).toEqual(['b/m']);
    expect(plan.dropped.map((d) => [d.target.key, d.reasons.map((r) => r.code)])).toEqual([['a/m', ['context_window']]]);
  });

  it('a breaker that opens moves its target last, and the only target of a model keeps its open circuit in the facts', () => {
    const { router, breakers } = node([{ id: 'a', models: ['m', 'solo'] }, { id: 'b', models: ['m'] }]);
    expect(keys(router.plan({ model: 'm', needs, rules: {}, peersAllowed: false }))).toEqual(['a/m', 'b/m']);
    breakers.get('a')!.onFailure();
    expect(breakers.get('a')!.state()).toBe('open');
    const plan = router.plan({ model: 'm', needs, rules: {}, peersAllowed: false });
    expect(keys(plan)).toEqual(['b/m', 'a/m']);
    expect(plan.plan[1]!.facts.circuit).toBe('open');
    expect(router.plan({ model: 'solo', needs, rules: {}, peersAllowed: false }).plan.map((p) => p.facts.circuit)).toEqual(['open']);
  });

  it('the mesh target goes after local ones, and its price is the one the peers advertise to this plan', () => {
    const { router } = node([{ id: 'a', models: ['m'] }], { pricing: { m: { input: 1, output: 2 } } });
    let asked = 0;
    const peerPrices = () => (asked++, [{ peerId: 'p1', inputPerMTok: 0.5, outputPerMTok: 0.5 }]);
    const plan = router.plan({ model: 'm', needs, rules: {}, peersAllowed: true, peerPrices });
    expect(keys(plan)).toEqual(['a/m', 'peer:*/m']);
    expect(plan.plan[1]!.facts).toMatchObject({ inputPrice: 0.5, outputPrice: 0.5, pricedBy: 'p1' });
    expect(asked).toBe(1);
    expect(router.plan({ model: 'm', needs, rules: {}, peersAllowed: false }).plan.map((p) => p.target.key)).toEqual(['a/m']);
  });

  it('a group with mesh targets of several models prices each from its own adverts, asked once per model and plan', () => {
    const { router } = node([{ id: 'a', models: ['m'] }], { models: [{ name: 'g', targets: [{ provider: 'peer:*', model: 'x' }, { provider: 'peer:*', model: 'y' }] }] });
    const asked: string[] = [];
    const peerPrices = (model: string) => (asked.push(model), [{ peerId: `p-${model}`, inputPerMTok: model === 'x' ? 1 : 2, outputPerMTok: 1 }]);
    const plan = router.plan({ model: 'g', needs, rules: {}, peersAllowed: true, peerPrices });
    expect(plan.plan.map((p) => [p.target.key, p.facts.pricedBy, p.facts.inputPrice])).toEqual([['peer:*/x', 'p-x', 1], ['peer:*/y', 'p-y', 2]]);
    expect(asked.sort()).toEqual(['x', 'y']);
  });

  it("every target's facts and measured signals have the same keys in the same order: priced or not, local or mesh, measured or not", () => {
    // One shape per role (V8's hidden class): the filter, rank and score layers read them for every target of every plan.
    const { router } = node([{ id: 'a', models: ['m'] }, { id: 'b', models: ['m'] }], {
      pricing: { m: { input: 1, output: 2 } },
      models: [{ name: 'g', targets: [{ provider: 'a', model: 'm', context_window: 5000 }, { provider: 'b', model: 'unpriced' }, { provider: 'peer:*', model: 'm' }] }],
    });
    router.stats.observe('b/unpriced', { ok: true, durationMs: 10, ttftMs: 5 });
    const plan = router.plan({ model: 'g', needs, rules: {}, peersAllowed: true, peerPrices: () => [] }).plan;
    expect(keys({ plan })).toEqual(['a/m', 'b/unpriced', 'peer:*/m']);
    const [priced, unpriced, mesh] = plan;
    expect(priced!.facts).toMatchObject({ contextWindow: 5000, inputPrice: 1 });
    expect(unpriced!.facts.inputPrice).toBeUndefined();
    for (const other of [unpriced!, mesh!]) expect(Object.keys(other.facts)).toEqual(Object.keys(priced!.facts));
    expect(unpriced!.measured.samples).toBe(1);
    expect(Object.keys(priced!.measured)).toEqual(Object.keys(unpriced!.measured));
  });

  it('pricing rules and required capabilities still drop a single candidate', () => {
    const { router } = node([{ id: 'a', models: ['m'] }], { pricing: { m: { input: 1, output: 2 } }, models: [{ name: 'g', targets: [{ provider: 'a', model: 'm', supports: ['images'] }] }] });
    expect(keys(router.plan({ model: 'm', needs, rules: {}, peersAllowed: false }))).toEqual(['a/m']);
    const priced = router.plan({ model: 'm', needs, rules: { maxOutputPrice: 1 }, peersAllowed: false });
    expect(priced.plan).toEqual([]);
    expect(priced.dropped[0]!.reasons.map((r) => r.code)).toEqual(['price_rule']);
    const tools = router.plan({ model: 'g', needs: { ...needs, capabilities: ['tools'] }, rules: {}, peersAllowed: false });
    expect(tools.dropped[0]!.reasons.map((r) => r.code)).toEqual(['capability']);
    expect(keys(router.plan({ model: 'g', needs: { ...needs, capabilities: ['images'] }, rules: {}, peersAllowed: false }))).toEqual(['a/m']);
  });

  it('quality signals set after construction are read by the next plan', () => {
    const { router } = node([{ id: 'a', models: ['m'] }, { id: 'b', models: ['m'] }]);
    expect(keys(router.plan({ model: 'm', needs, rules: {}, profile: 'quality', peersAllowed: false }))).toEqual(['a/m', 'b/m']);
    router.quality = { scoreOf: (t) => (t.provider === 'b' ? 0.9 : 0.1) };
    const plan = router.plan({ model: 'm', needs, rules: {}, profile: 'quality', peersAllowed: false });
    expect(keys(plan)).toEqual(['b/m', 'a/m']);
    expect(plan.plan[0]!.signals.quality).toBe(0.9);
  });
});
