import { ConfigError, type WireFormat } from '../core/index.js';
import type { GenerationEndpoint, ProviderConfig, ProviderType } from '../core-config/index.js';
import { DEFAULT_BASE_URLS, presetOf } from '../core-config/index.js';
import { bedrockEndpoints } from './bedrock/endpoints.js';
import { applyPresetQuirks, presetDroppedFields } from './preset-quirks.js';
import type { Operation, ProviderEndpoints } from './types.js';
import { vertexEndpoints } from './vertex/endpoints.js';

const trimSlash = (url: string) => url.replace(/\/+$/, '');
const idsFromData = (body: unknown) =>
  ((body as { data?: Array<{ id?: unknown }> })?.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string');

const ENDPOINT_FORMAT: Record<GenerationEndpoint, WireFormat> = { chat: 'openai', responses: 'responses' };

/**
 * OpenAI and every OpenAI-compatible server (Ollama, vLLM, LM Studio, OpenRouter):
 * https://platform.openai.com/docs/api-reference — chat at `/chat/completions` and, for OpenAI itself by default (for
 * others when `endpoints` lists it), the Responses API at `/responses`.
 */
function openaiEndpoints(base: string, config: ProviderConfig): ProviderEndpoints {
  const defaults: GenerationEndpoint[] = config.endpoints ?? (config.type === 'openai' ? ['chat', 'responses'] : ['chat']);
  const formatsOf = (endpoints: GenerationEndpoint[]) => endpoints.map((e) => ENDPOINT_FORMAT[e]);
  const byModel = new Map(Object.entries(config.model_endpoints).map(([model, endpoints]) => [model, formatsOf(endpoints)]));
  const standard = formatsOf(defaults);
  return {
    format: 'openai',
    operations: new Set<Operation>(['chat', 'embeddings']),
    chatFormats: (model) => byModel.get(model) ?? standard,
    url: (op, _model, _stream, format) => `${base}/${op === 'embeddings' ? 'embeddings' : format === 'responses' ? 'responses' : 'chat/completions'}`,
    headers: (key): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {}),
    models: { url: `${base}/models`, parse: idsFromData },
  };
}

/**
 * Azure OpenAI data plane: the deployment is in the path, the version in `api-version`, the key in `api-key`.
 * https://learn.microsoft.com/azure/ai-services/openai/reference
 */
function azureEndpoints(base: string, config: ProviderConfig): ProviderEndpoints {
  const deploymentFor = (model: string) => encodeURIComponent(config.deployments[model] ?? config.deployment ?? model);
  const version = encodeURIComponent(config.api_version);
  return {
    format: 'openai',
    operations: new Set<Operation>(['chat', 'embeddings']),
    url: (op, model) => `${base}/openai/deployments/${deploymentFor(model)}/${op === 'embeddings' ? 'embeddings' : 'chat/completions'}?api-version=${version}`,
    headers: (key): Record<string, string> => (key ? { 'api-key': key } : {}),
  };
}

/** Anthropic Messages API: https://docs.anthropic.com/en/api/messages — base is the SDK's baseURL (no /v1). */
export const ANTHROPIC_VERSION = '2023-06-01';
function anthropicEndpoints(base: string): ProviderEndpoints {
  return {
    format: 'anthropic',
    operations: new Set<Operation>(['chat', 'count_tokens']),
    url: (op) => `${base}/v1/messages${op === 'count_tokens' ? '/count_tokens' : ''}`,
    headers: (key) => ({ ...(key ? { 'x-api-key': key } : {}), 'anthropic-version': ANTHROPIC_VERSION }),
    models: { url: `${base}/v1/models?limit=1000`, parse: idsFromData },
  };
}

/** Gemini API v1beta: https://ai.google.dev/api — the key travels in `x-goog-api-key`, never in the URL. */
function geminiEndpoints(base: string): ProviderEndpoints {
  const action: Record<Operation, string> = { chat: 'generateContent', embeddings: 'batchEmbedContents', count_tokens: 'countTokens' };
  return {
    format: 'gemini',
    operations: new Set<Operation>(['chat', 'embeddings', 'count_tokens']),
    url: (op, model, stream) => {
      const name = encodeURIComponent(model.replace(/^models\//, ''));
      return op === 'chat' && stream ? `${base}/models/${name}:streamGenerateContent?alt=sse` : `${base}/models/${name}:${action[op]}`;
    },
    headers: (key): Record<string, string> => (key ? { 'x-goog-api-key': key } : {}),
    models: {
      url: `${base}/models?pageSize=1000`,
      parse: (body) =>
        ((body as { models?: Array<{ name?: unknown }> })?.models ?? [])
          .map((m) => (typeof m.name === 'string' ? m.name.replace(/^models\//, '') : undefined))
          .filter((id): id is string => id !== undefined),
    },
  };
}

type Builder = (config: ProviderConfig, env: NodeJS.ProcessEnv) => ProviderEndpoints;
/** Types whose endpoint is a base URL plus a key header. */
const withBase = (build: (base: string, config: ProviderConfig) => ProviderEndpoints): Builder =>
  (config) => build(trimSlash(config.base_url ?? DEFAULT_BASE_URLS[config.type]!), config);

/**
 * An OpenAI-compatible server; a named preset's quirks shape its bodies, and its key comes from the preset's variable
 * when the config gives none (`type = "groq"` alone reads GROQ_API_KEY).
 */
const openaiCompatible: Builder = (config, env) => {
  const endpoints = openaiEndpoints(trimSlash(config.base_url!), config);
  const preset = presetOf(config.preset);
  if (!preset) return endpoints;
  const envKey = preset.keyEnv ? env[preset.keyEnv] || undefined : undefined;
  const configured = config.api_key !== undefined || config.api_keys !== undefined || config.keys !== undefined;
  if (preset.keyRequired && !configured && !envKey) {
    throw new ConfigError(`provider ${config.id}: ${preset.title} needs a key: set api_key, api_keys or keys, or ${preset.keyEnv}`);
  }
  return {
    ...endpoints,
    headers: (key) => endpoints.headers(key ?? envKey),
    prepareBody: (op, _model, body) => applyPresetQuirks(preset, op, body),
    droppedFields: (op, _model, body) => presetDroppedFields(preset, op, body),
    ...(preset.discovery ? {} : { models: undefined }),
  };
};

const BUILDERS: Record<ProviderType, Builder> = {
  openai: withBase(openaiEndpoints),
  openai_compatible: openaiCompatible,
  azure_openai: withBase(azureEndpoints),
  anthropic: withBase(anthropicEndpoints),
  gemini: withBase(geminiEndpoints),
  // Regional endpoints and credentials of their own (resolved from config, then the environment): their folders.
  bedrock: bedrockEndpoints,
  vertex: vertexEndpoints,
};

/** A provider's endpoints. Throws ConfigError when a type's credentials or region cannot be resolved. */
export function endpointsFor(config: ProviderConfig, env: NodeJS.ProcessEnv = process.env): ProviderEndpoints {
  return BUILDERS[config.type](config, env);
}
