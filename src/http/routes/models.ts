import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { badRequest } from '../../errors/index.js';
import { modelNotFound } from '../../pipeline/model-not-found.js';
import type { Provider } from '../../providers/index.js';
import type { InfoDeps } from './info.js';
import { geminiModelDoc, geminiModelsDoc, modelDoc, modelsDoc } from './info-docs.js';

/** One model as this node knows it: who serves it and what is known about it. */
interface ModelRow {
  id: string;
  providers: string[];
  peers: string[];
  contextLength?: number;
  capabilities: string[];
  pricing?: { input: number; output: number; cached_input?: number };
  /** A `[[models]]` group (its strategy and targets) or alias (the name it stands for). */
  group?: { strategy: string; targets: Array<{ provider: string; model: string; weight: number }> };
  aliasOf?: string;
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

/** Gemini method names for each capability (https://ai.google.dev/api/models#Model). countTokens works for any chat model. */
const GEMINI_METHODS: Record<string, string[]> = {
  chat: ['generateContent', 'streamGenerateContent', 'countTokens'],
  embeddings: ['embedContent', 'batchEmbedContents'],
};

function modelRows(deps: InfoDeps) {
  const routingRow = (name: NonNullable<ReturnType<NonNullable<InfoDeps['routingNames']>>>[number]): ModelRow => {
    const providers = [...new Set((name.targets ?? []).map((t) => t.provider).filter((p) => !p.startsWith('peer:')))];
    const serving = providers.map((pid) => deps.catalog.provider(pid)).filter((p): p is Provider => p !== undefined);
    return {
      id: name.id, providers, peers: [], capabilities: capabilitiesOf(name.id, serving, (name.targets ?? []).some((t) => t.provider.startsWith('peer:'))),
      ...(name.kind === 'group' ? { group: { strategy: name.strategy ?? 'ordered', targets: name.targets ?? [] } } : { aliasOf: name.aliasOf }),
    };
  };
  const row = (id: string, providers: string[], peers: string[]): ModelRow => {
    const price = deps.prices?.priceFor(id);
    const serving = providers.map((pid) => deps.catalog.provider(pid)).filter((p): p is Provider => p !== undefined);
    return {
      id, providers, peers,
      ...(price?.contextWindow ? { contextLength: price.contextWindow } : {}),
      capabilities: capabilitiesOf(id, serving, peers.length > 0),
      ...(price
        ? { pricing: { input: price.inputPerMTok, output: price.outputPerMTok, ...(price.cachedInputPerMTok !== undefined ? { cached_input: price.cachedInputPerMTok } : {}) } }
        : {}),
    };
  };
  return {
    /** Every model served here or by a known peer, and every group and alias, sorted by id. */
    all(): ModelRow[] {
      const local = deps.catalog.list();
      const mesh = deps.meshModels?.() ?? new Map<string, string[]>();
      const names = new Map((deps.routingNames?.() ?? []).map((n) => [n.id, n]));
      const ids = [...new Set([...local.map((m) => m.id), ...mesh.keys(), ...names.keys()])].sort();
      return ids.map((id) => {
        const plain = (model: string) => row(model, local.find((m) => m.id === model)?.providers ?? [], mesh.get(model) ?? []);
        const name = names.get(id);
        if (!name) return plain(id);
        if (name.kind === 'group') return routingRow(name);
        // An alias shows what it stands for (a group's targets, or the model's providers) under its own id.
        const to = names.get(name.aliasOf!);
        const { group, ...target } = to?.kind === 'group' ? routingRow(to) : plain(name.aliasOf!);
        return { ...target, ...(group ? { group } : {}), id, aliasOf: name.aliasOf };
      });
    },
    /** One model, also one only a wildcard provider serves or one pinned to a provider (`azure/gpt-4o`). */
    one(id: string): ModelRow | undefined {
      const listed = this.all().find((m) => m.id === id);
      if (listed) return listed;
      const routes = deps.catalog.resolve(id);
      return routes.length ? row(id, routes.map((r) => r.provider.id), []) : undefined;
    },
  };
}

const openaiModel = (m: ModelRow) => ({
  id: m.id,
  object: 'model',
  created: 0,
  owned_by: m.providers[0] ?? (m.peers.length ? 'mesh' : 'meshgate'),
  providers: m.providers,
  ...(m.peers.length ? { peers: m.peers } : {}),
  ...(m.contextLength ? { context_length: m.contextLength } : {}),
  capabilities: m.capabilities,
  ...(m.pricing ? { pricing: { ...m.pricing, unit: 'USD per 1M tokens' } } : {}),
  ...(m.group ? { group: m.group } : {}),
  ...(m.aliasOf ? { alias_of: m.aliasOf } : {}),
});

/** The Anthropic SDK sends anthropic-version and expects its own shape (https://docs.claude.com/en/api/models). */
const anthropicModel = (m: ModelRow) => ({ type: 'model', id: m.id, display_name: m.id, created_at: new Date(0).toISOString() });

const geminiModel = (m: ModelRow) => ({
  name: `models/${m.id}`,
  baseModelId: m.id,
  version: '001',
  displayName: m.id,
  description: `Served by meshgate (${[...m.providers, ...m.peers.map((p) => `peer ${p}`)].join(', ') || 'no provider'})`,
  ...(m.contextLength ? { inputTokenLimit: m.contextLength } : {}),
  supportedGenerationMethods: m.capabilities.flatMap((c) => GEMINI_METHODS[c] ?? []),
});

const wantsAnthropic = (request: FastifyRequest) => request.headers['anthropic-version'] !== undefined;

/**
 * A Gemini client on the /v1 paths: `@google/genai` 3 lists and gets models at `/v1/models…` unless told otherwise,
 * sending `x-goog-api-client` and its key in `x-goog-api-key`; Gemini's own /v1 answers in its shape there.
 */
export const wantsGemini = (request: FastifyRequest) =>
  !wantsAnthropic(request) && (request.headers['x-goog-api-client'] !== undefined || request.headers['x-goog-api-key'] !== undefined);


/** Gemini's `models.list` page size: 50 by default, at most 1000 (https://ai.google.dev/api/models#method:-models.list). */
const GEMINI_PAGE = { default: 50, max: 1_000 };

/**
 * Model look-ups in each client's shape: `GET /v1/models` and `/v1/models/{id}` (OpenAI, or Anthropic with
 * `anthropic-version`), `GET /v1beta/models` and `/v1beta/models/{model}` (Gemini, paged with pageSize/pageToken).
 */
export function modelRoutes(deps: InfoDeps): FastifyPluginAsync {
  const models = modelRows(deps);
  return async (app) => {
    const geminiList = (request: FastifyRequest<{ Querystring: { pageSize?: string; pageToken?: string } }>) => {
      const size = request.query.pageSize === undefined ? GEMINI_PAGE.default : Number(request.query.pageSize);
      if (!Number.isInteger(size) || size < 1) throw badRequest('pageSize must be a positive integer.', 'pageSize');
      const offset = request.query.pageToken ? Number.parseInt(Buffer.from(request.query.pageToken, 'base64url').toString('utf8'), 10) : 0;
      if (!Number.isInteger(offset) || offset < 0) throw badRequest('pageToken is not one this node gave out.', 'pageToken');
      const rows = models.all();
      const end = offset + Math.min(size, GEMINI_PAGE.max);
      return {
        models: rows.slice(offset, end).map(geminiModel),
        ...(end < rows.length ? { nextPageToken: Buffer.from(String(end)).toString('base64url') } : {}),
      };
    };
    const one = (id: string) => {
      const row = models.one(id);
      if (!row) throw modelNotFound(id, { suggestions: deps.catalog.closeMatches(id) });
      return row;
    };

    // No fixed format on the /v1 look-ups: the Anthropic and Gemini SDKs share these paths, so answers and errors
    // follow anthropic-version and the Gemini client's headers.
    const list = async (request: FastifyRequest<{ Querystring: { pageSize?: string; pageToken?: string } }>) => {
      if (wantsGemini(request)) return geminiList(request);
      const rows = models.all();
      if (wantsAnthropic(request)) {
        return { data: rows.map(anthropicModel), has_more: false, first_id: rows[0]?.id ?? null, last_id: rows.at(-1)?.id ?? null };
      }
      return { object: 'list', data: rows.map(openaiModel) };
    };
    app.get<{ Querystring: { pageSize?: string; pageToken?: string } }>('/v1/models', { config: { doc: modelsDoc } }, list);
    // Azure OpenAI's v1 API (`OpenAI({ baseURL: '…/openai/v1' })`): OpenAI clients only.
    app.get('/openai/v1/models', { config: { format: 'openai', doc: { ...modelsDoc, summary: `${modelsDoc.summary} (Azure OpenAI v1 path)` } } }, async (request) => {
      const rows = models.all();
      return { object: 'list', data: rows.map(openaiModel) };
    });

    // A wildcard: model ids may hold a slash (`azure/gpt-4o`, `meta-llama/Llama-3.3-70B`).
    app.get<{ Params: { '*': string } }>('/v1/models/*', { config: { doc: modelDoc } }, async (request) => {
      const row = one(request.params['*']);
      if (wantsGemini(request)) return geminiModel(row);
      return wantsAnthropic(request) ? anthropicModel(row) : openaiModel(row);
    });
    app.get<{ Params: { '*': string } }>('/openai/v1/models/*', { config: { format: 'openai', doc: { ...modelDoc, summary: 'One model, OpenAI shape (Azure OpenAI v1 path)' } } }, async (request) => openaiModel(one(request.params['*'])));

    app.get<{ Querystring: { pageSize?: string; pageToken?: string } }>('/v1beta/models', { config: { format: 'gemini', doc: geminiModelsDoc } }, async (request) => geminiList(request));

    app.get<{ Params: { model: string } }>('/v1beta/models/:model', { config: { format: 'gemini', doc: geminiModelDoc } }, async (request) => geminiModel(one(request.params.model)));
  };
}
