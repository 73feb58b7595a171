import type { FastifyPluginAsync } from 'fastify';
import { publicUrl } from '../../config/public-url.js';
import type { PriceBook } from '../../pricing/index.js';
import { providerKeyLabels } from '../../core-config/index.js';
import type { Provider } from '../../providers/index.js';
import type { CircuitBreaker } from '../../router/circuit-breaker.js';
import type { ModelCatalog } from '../../router/model-catalog.js';
import { VERSION } from '../../version.js';
import { healthDoc, providersDoc } from './info-docs.js';


export interface InfoDeps {
  /** The providers serving now (run-time changes included), in failover order, with their model lists. */
  catalog: ModelCatalog;
  /** Where a provider comes from: the config file or the run-time API. */
  sourceOf?: (providerId: string) => 'config' | 'runtime' | undefined;
  breakers: Map<string, CircuitBreaker>;
  startedAt: number;
  /** Context length and prices per million tokens, where the price catalog (or the operator's config) knows them. */
  prices?: Pick<PriceBook, 'priceFor'>;
  /** Models served by mesh peers (id → peer ids), shown beside local ones. */
  meshModels?: () => Map<string, string[]>;
  /** Model groups and aliases of `[[models]]`, listed by `GET /v1/models` with their targets. */
  routingNames?: () => Array<{ id: string; kind: 'group' | 'alias'; aliasOf?: string; strategy?: string; targets?: Array<{ provider: string; model: string; weight: number }> }>;
  /** Extra /health fields (mesh peer id and peer count). */
  health?: () => Record<string, unknown>;
}

export function infoRoutes(deps: InfoDeps): FastifyPluginAsync {
  const providerView = (p: Provider) => {
    const models = deps.catalog.providerModels(p.id);
    return {
      id: p.id,
      type: p.type,
      ...(p.config.preset ? { preset: p.config.preset } : {}),
      format: p.format,
      base_url: publicUrl(p.config.base_url),
      // Labels only: how many keys and what they are called, never a value.
      ...(p.config.keys || p.config.api_keys ? { keys: providerKeyLabels(p.config) } : {}),
      models: models?.wildcard ? ['*', ...models.models] : models?.models ?? [],
      circuit: deps.breakers.get(p.id)?.state() ?? 'closed',
      ...(deps.sourceOf ? { source: deps.sourceOf(p.id) ?? 'config' } : {}),
      ...(models?.lastError ? { discovery_error: models.lastError } : {}),
    };
  };

  return async (app) => {
    app.get('/v1/providers', { config: { format: 'openai', doc: providersDoc } }, async () => ({ object: 'list', data: deps.catalog.providers().map(providerView) }));
  };
}

/** GET /health: liveness and a summary, open to load balancers (no secrets, no per-client data). */
export function healthRoute(deps: InfoDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/health', { config: { doc: healthDoc } }, async () => ({
      status: 'ok',
      version: VERSION,
      uptime_s: Math.round((Date.now() - deps.startedAt) / 1000),
      providers: deps.catalog.providers().map((p) => ({ id: p.id, type: p.type, circuit: deps.breakers.get(p.id)?.state() ?? 'closed' })),
      ...(deps.health?.() ?? {}),
    }));
  };
}
