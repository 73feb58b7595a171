import { z } from 'zod';
import { listOf, type RouteDoc } from '../../openapi/index.js';

const circuitSchema = z.enum(['closed', 'open', 'half_open']);

const modelSchema = z.looseObject({
  id: z.string(),
  object: z.literal('model'),
  created: z.number().int(),
  owned_by: z.string(),
  /** Local providers serving the model. */
  providers: z.array(z.string()),
  peers: z.array(z.string()).optional().describe('Mesh peers serving the model.'),
  context_length: z.number().int().optional(),
  capabilities: z.array(z.string()),
  group: z.object({ strategy: z.string(), targets: z.array(z.object({ provider: z.string(), model: z.string(), weight: z.number() })) }).optional().describe('A `[[models]]` group: its rank strategy and targets.'),
  alias_of: z.string().optional().describe('A `[[models]]` alias: the name it is routed as.'),
  pricing: z.object({ input: z.number(), output: z.number(), cached_input: z.number().optional(), unit: z.literal('USD per 1M tokens') }).optional(),
});

const anthropicModelSchema = z.object({ type: z.literal('model'), id: z.string(), display_name: z.string(), created_at: z.string() });

const anthropicModelListSchema = z.object({
  data: z.array(anthropicModelSchema),
  has_more: z.boolean(),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
});

const providerSchema = z.looseObject({
  id: z.string(),
  type: z.string(),
  format: z.string(),
  preset: z.string().optional().describe('The named preset the provider was configured with (`groq`, `mistral`, …).'),
  base_url: z.string().describe('Without credentials or query.'),
  keys: z.array(z.string()).optional().describe('Labels of the provider\'s keys, when it has several (never their values).'),
  models: z.array(z.string()).describe('`*` first when the provider serves any model.'),
  circuit: circuitSchema,
  source: z.enum(['config', 'runtime']).optional().describe('`config`: from the config file; `runtime`: added through `POST /v1/providers`.'),
  discovery_error: z.string().optional(),
});

export const healthSchema = z.looseObject({
  status: z.literal('ok'),
  version: z.string(),
  uptime_s: z.number().int(),
  providers: z.array(z.object({ id: z.string(), type: z.string(), circuit: circuitSchema })),
  mesh: z.object({ peer_id: z.string(), peers: z.number().int(), connections: z.number().int() }).optional(),
  state: z.object({
    backend: z.enum(['embedded', 'redis']),
    status: z.enum(['ok', 'unavailable', 'local']).describe('`unavailable`: requests that need the shared state are refused (503); `local`: counted per replica'),
    latency_ms: z.number().optional().describe('Round trip of the last state operation'),
  }).optional().describe('Where quota counters and revocations live ([state])'),
});

const geminiModelSchema = z.looseObject({
  name: z.string().describe('`models/{id}`'),
  baseModelId: z.string(),
  version: z.string(),
  displayName: z.string(),
  description: z.string(),
  inputTokenLimit: z.number().int().optional(),
  supportedGenerationMethods: z.array(z.string()),
});

const GEMINI_LIST = z.object({ models: z.array(geminiModelSchema), nextPageToken: z.string().optional() });

export const modelDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'One model (OpenAI shape, Anthropic\'s with `anthropic-version`, Gemini\'s for a Gemini client)',
  description: 'Model ids may hold a slash (`azure/gpt-4o` pins a provider); a model no provider serves is a 404 with close matches.',
  wildcard: 'model',
  params: z.object({ model: z.string().describe('The model id, e.g. `gpt-4o` or `azure/gpt-4o`.') }),
  headers: {
    'anthropic-version': { description: 'Present: the answer is in the Anthropic SDK\'s shape.' },
    'x-goog-api-client': { description: 'Present (or `x-goog-api-key`): the answer is in the Gemini API\'s shape, as `@google/genai` calls this path.' },
  },
  responses: { 200: { description: 'The model.', schema: z.union([modelSchema, anthropicModelSchema, geminiModelSchema]) } },
};

export const geminiModelsDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'Models, in the Gemini API\'s shape (paged)',
  query: z.object({
    pageSize: z.coerce.number().int().min(1).optional().describe('50 by default, at most 1000.'),
    pageToken: z.string().optional().describe('`nextPageToken` of the previous page.'),
  }),
  responses: { 200: { description: 'One page of models.', schema: GEMINI_LIST } },
};

export const geminiModelDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'One model, in the Gemini API\'s shape',
  params: z.object({ model: z.string() }),
  responses: { 200: { description: 'The model.', schema: geminiModelSchema } },
};

export const modelsDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'Models served here and by mesh peers',
  description: 'OpenAI\'s list shape; a request with `anthropic-version` gets Anthropic\'s, a Gemini client (`x-goog-api-client` or `x-goog-api-key`) Gemini\'s, paged with `pageSize` and `pageToken`.',
  headers: {
    'anthropic-version': { description: 'Present: the answer is in the Anthropic SDK\'s list shape.' },
    'x-goog-api-client': { description: 'Present (or `x-goog-api-key`): the answer is a page in the Gemini API\'s shape, as `@google/genai` lists models here.' },
  },
  responses: {
    200: {
      description: 'The models, sorted by id (OpenAI\'s list, or Anthropic\'s with `anthropic-version`).',
      schema: z.union([listOf(modelSchema), anthropicModelListSchema, GEMINI_LIST]),
      example: { object: 'list', data: [{ id: 'gpt-4o', object: 'model', created: 0, owned_by: 'openai', providers: ['openai'], context_length: 128000, capabilities: ['chat'], pricing: { input: 2.5, output: 10, unit: 'USD per 1M tokens' } }] },
    },
  },
};

export const providersDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'Providers of this node and their circuit state',
  responses: { 200: { description: 'The configured providers.', schema: listOf(providerSchema) } },
};

export const healthDoc: RouteDoc = {
  tag: 'Operator',
  summary: 'Liveness and a summary (open, for load balancers)',
  responses: { 200: { description: 'The node is up.', schema: healthSchema, example: { status: 'ok', version: '0.1.0', uptime_s: 42, providers: [{ id: 'openai', type: 'openai', circuit: 'closed' }] } } },
};
