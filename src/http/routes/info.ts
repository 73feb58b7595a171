import type { FastifyPluginAsync } from 'fastify';
import { publicUrl } from '../../config/public-url.js';
import type { PriceBook } from '../../pricing/index.js';
import type { Provider } from '../../providers/index.js';
import type { CircuitBreaker } from '../../router/circuit-breaker.js';
import type { ModelCatalog } from '../../router/model-catalog.js';
import { VERSION } from '../../version.js';
import { getOpenAIRoute } from './openai-paths.js';


export interface InfoDeps {
  providers: Provider[];
  catalog: ModelCatalog;
  breakers: Map<string, CircuitBreaker>;
  startedAt: number;
  /** Context length and prices per million tokens, where the price catalog (or the operator's config) knows them. */
  prices?: Pick<PriceBook, 'priceFor'>;
  /** Models served by mesh peers (id → peer ids), shown beside local ones. */
  meshModels?: () => Map<string, string[]>;
  /** Extra /health fields (mesh peer id and peer count). */
  health?: () => Record<string, unknown>;
}

/**
 * What a client can do with a model here: the endpoints of the providers serving it (an embedding model, named so
 * by convention, is offered for embeddings only), or chat when only peers serve it.
 */
function capabilitiesOf(model: string, providers: Provider[], servedByPeers: boolean): string[] {
  if (/embed/i.test(model)) return providers.some((p) => p.supports('embeddings')) ? ['embeddings'] : [];
  const ops = new Set<string>(servedByPeers ? ['chat'] : []);
  for (const provider of providers) {
    if (provider.supports('chat')) ops.add('chat');
    if (provider.supports('count_tokens')) ops.add('count_tokens');
  }
  return [...ops];
}

export function infoRoutes(deps: InfoDeps): FastifyPluginAsync {
  const providerView = (p: Provider) => {
    const models = deps.catalog.providerModels(p.id);
    return {
      id: p.id,
      type: p.type,
      format: p.format,
      base_url: publicUrl(p.config.base_url),
      models: models?.wildcard ? ['*', ...models.models] : models?.models ?? [],
      circuit: deps.breakers.get(p.id)?.state() ?? 'closed',
      ...(models?.lastError ? { discovery_error: models.lastError } : {}),
    };
  };

  return async (app) => {
    app.get('/v1/providers', { config: { format: 'openai' } }, async () => ({ object: 'list', data: deps.providers.map(providerView) }));

    getOpenAIRoute(app, '/models', async (request) => {
      const local = deps.catalog.list();
      const mesh = deps.meshModels?.() ?? new Map<string, string[]>();
      const ids = [...new Set([...local.map((m) => m.id), ...mesh.keys()])].sort();
      const rows = ids.map((id) => {
        const price = deps.prices?.priceFor(id);
        const providers = local.find((m) => m.id === id)?.providers ?? [];
        const peers = mesh.get(id) ?? [];
        return {
          id,
          object: 'model',
          created: 0,
          owned_by: providers[0] ?? (peers.length ? 'mesh' : 'meshgate'),
          providers,
          ...(peers.length ? { peers } : {}),
          ...(price?.contextWindow ? { context_length: price.contextWindow } : {}),
          capabilities: capabilitiesOf(id, providers.map((pid) => deps.providers.find((p) => p.id === pid)).filter((p): p is Provider => p !== undefined), peers.length > 0),
          ...(price
            ? { pricing: { input: price.inputPerMTok, output: price.outputPerMTok, ...(price.cachedInputPerMTok !== undefined ? { cached_input: price.cachedInputPerMTok } : {}), unit: 'USD per 1M tokens' } }
            : {}),
        };
      });
      // The Anthropic SDK sends anthropic-version and expects its own list shape.
      if (request.headers['anthropic-version']) {
        return {
          data: rows.map((r) => ({ type: 'model', id: r.id, display_name: r.id, created_at: new Date(0).toISOString() })),
          has_more: false,
          first_id: rows[0]?.id ?? null,
          last_id: rows[rows.length - 1]?.id ?? null,
        };
      }
      return { object: 'list', data: rows };
    });
  };
}

/** GET /health: liveness and a summary, open to load balancers (no secrets, no per-client data). */
export function healthRoute(deps: InfoDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/health', async () => ({
      status: 'ok',
      version: VERSION,
      uptime_s: Math.round((Date.now() - deps.startedAt) / 1000),
      providers: deps.providers.map((p) => ({ id: p.id, type: p.type, circuit: deps.breakers.get(p.id)?.state() ?? 'closed' })),
      ...(deps.health?.() ?? {}),
    }));
  };
}
