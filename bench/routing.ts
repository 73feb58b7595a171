/**
 * Routing-engine benchmark: what planning a request (candidates → filter → score → rank → plan) adds to it.
 * `npx tsx bench/routing.ts [--quick]`
 *
 * A node with 10 providers, all targets of one group, with priced models and measured signals for every target;
 * timed: the plan under the `balanced` profile (score strategy), and a plain model name in config order (today's path);
 * and the bench config's trivial case — one OpenAI provider, one model, no routing config — alone and with the mesh on.
 * Besides the wall-clock percentiles, the CPU per plan from `process.cpuUsage()` over all iterations.
 */
import { pathToFileURL } from 'node:url';
import { parseConfig } from '../src/config/index.js';
import { PriceBook } from '../src/pricing/index.js';
import { createProvider } from '../src/providers/index.js';
import { CircuitBreaker } from '../src/router/circuit-breaker.js';
import { ModelCatalog } from '../src/router/model-catalog.js';
import { Router } from '../src/router/router.js';

const QUICK = process.argv.includes('--quick');
const CANDIDATES = 10;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export function runRoutingBenchmark(): string[] {
  const ids = Array.from({ length: CANDIDATES }, (_, i) => `p${i}`);
  const config = parseConfig({
    providers: ids.map((id) => ({ id, type: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1', models: ['m', `m-${id}`] })),
    pricing: Object.fromEntries(ids.map((id, i) => [`m-${id}`, { input: 0.1 * (i + 1), output: 0.4 * (i + 1) }])),
    models: [{ name: 'auto', targets: ids.map((id, i) => ({ provider: id, model: `m-${id}`, weight: i + 1, context_window: 128_000 })) }],
  }, 'bench', {});
  const providers = config.providers.map((p) => createProvider(p));
  const catalog = new ModelCatalog(providers);
  const breakers = new Map(ids.map((id) => [id, new CircuitBreaker({ failureThreshold: 5, cooldownMs: 30_000, maxCooldownMs: 300_000 })]));
  const priceBook = new PriceBook(config.pricing);
  const router = new Router({ catalog, breakers, models: config.models, profiles: config.routing.profiles, fallbacks: config.routing.fallbacks, priceOf: (model, p) => priceBook.priceFor(model, p.type), inFlight: () => 0 });
  ids.forEach((id, i) => {
    for (let n = 0; n < 200; n++) router.stats.observe(`${id}/m-${id}`, { ok: n % 20 !== 0, durationMs: 100 + i * 10 + (n % 7), ttftMs: 20 + i + (n % 5) });
  });
  const needs = { operation: 'chat' as const, inputTokens: 1_200, maxOutputTokens: 1_024, capabilities: [] };
  const single = parseConfig({ providers: [{ id: 'openai', type: 'openai', api_key: 'sk-bench', base_url: 'http://127.0.0.1:9/v1', models: ['gpt-4o-mini'] }] }, 'bench', {});
  const soleProvider = createProvider(single.providers[0]!);
  const trivial = new Router({
    catalog: new ModelCatalog([soleProvider]), breakers: new Map([['openai', new CircuitBreaker({ failureThreshold: 5, cooldownMs: 30_000, maxCooldownMs: 300_000 })]]),
    models: single.models, profiles: single.routing.profiles, fallbacks: single.routing.fallbacks, priceOf: (model, p) => priceBook.priceFor(model, p.type), inFlight: () => 0,
  });
  const iterations = QUICK ? 5_000 : 50_000;
  const cpuPerPlan: number[] = [];
  const time = (plan: () => unknown) => {
    for (let i = 0; i < 2_000; i++) plan(); // warm-up
    const samples: number[] = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < iterations; i++) {
      const start = process.hrtime.bigint();
      plan();
      samples.push(Number(process.hrtime.bigint() - start) / 1_000);
    }
    const used = process.cpuUsage(cpu);
    cpuPerPlan.push((used.user + used.system) / iterations);
    return samples.sort((a, b) => a - b);
  };
  const profiled = time(() => router.plan({ model: 'auto', needs, rules: { maxOutputPrice: 100 }, profile: 'balanced', peersAllowed: false }));
  const plain = time(() => router.plan({ model: 'm', needs, rules: {}, peersAllowed: false }));
  const one = time(() => trivial.plan({ model: 'gpt-4o-mini', needs, rules: {}, peersAllowed: false }));
  const oneWithMesh = time(() => trivial.plan({ model: 'gpt-4o-mini', needs, rules: {}, peersAllowed: true, peerPrices: () => [] }));
  const line = (name: string, s: number[], n: number) =>
    `${name}: p50 ${percentile(s, 50).toFixed(1)} µs, p99 ${percentile(s, 99).toFixed(1)} µs, CPU ${cpuPerPlan[n]!.toFixed(2)} µs/plan (${iterations} plans)`;
  return [
    line(`group of ${CANDIDATES} targets, profile "balanced" (score), pricing rule`, profiled, 0), line(`plain model, ${CANDIDATES} providers, ordered`, plain, 1),
    line('one provider, one model, no routing config (the bench config)', one, 2), line('the same with the mesh on (a peer:* target)', oneWithMesh, 3),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) for (const line of runRoutingBenchmark()) console.log(line);
