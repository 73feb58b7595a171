import type { ProviderConfig, ProviderType } from '../core-config/index.js';
import { DEFAULT_BASE_URLS } from '../core-config/index.js';
import { bedrockEndpoints } from './bedrock/endpoints.js';
import type { Operation, ProviderEndpoints } from './types.js';
import { vertexEndpoints } from './vertex/endpoints.js';

const trimSlash = (url: string) => url.replace(/\/+$/, '');
const idsFromData = (body: unknown) =>
  ((body as { data?: Array<{ id?: unknown }> })?.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string');

/** OpenAI and every OpenAI-compatible server (Ollama, vLLM, LM Studio, OpenRouter): https://platform.openai.com/docs/api-reference */
function openaiEndpoints(base: string): ProviderEndpoints {
  return {
    format: 'openai',
    operations: new Set<Operation>(['chat', 'embeddings']),
    url: (op) => `${base}/${op === 'embeddings' ? 'embeddings' : 'chat/completions'}`,
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

const BUILDERS: Record<ProviderType, Builder> = {
  openai: withBase(openaiEndpoints),
  openai_compatible: withBase(openaiEndpoints),
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
