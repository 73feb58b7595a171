/**
 * Named OpenAI-compatible providers, as data: where each lives, which variable holds its key, whether it lists its
 * models, and what it refuses of the OpenAI Chat Completions body. `type = "groq"` is `type = "openai_compatible"`
 * with these filled in; the quirks are applied to every body sent to it (src/providers/preset-quirks.ts), whatever
 * format the client spoke. The README's provider table is generated from this list (`npm run docs:providers`) and
 * a test fails when the two differ.
 *
 * Each entry cites the provider's own documentation for its base URL, key variable and quirks. A quirk is listed only
 * where the docs (or the provider's refusal) say so: an unknown field most of these servers ignore. Every hosted
 * preset takes its key as `Authorization: Bearer <key>`, as its docs page shows (checked 2026-12 against the pages
 * in `docs`; an entry changed then says what changed). A field left out is named in x-meshgate-warnings.
 */
export interface ProviderPreset {
  /** Display name. */
  title: string;
  /** The API root as the OpenAI SDK takes it (`baseURL`): `/chat/completions` and `/models` are below it. */
  baseUrl: string;
  /** The variable the provider's own SDK or docs read the key from; set, a node without a config serves this preset. */
  keyEnv?: string;
  /**
   * A variable naming the server's address (local servers): set, a node without a config serves this preset at it.
   * `OLLAMA_HOST` is read as Ollama reads it (host[:port], scheme optional); the others are full base URLs.
   */
  baseUrlEnv?: string;
  /** Whether requests need a key (local servers take one only when started with one). */
  keyRequired: boolean;
  /** `GET {baseUrl}/models` lists the models served: without a `models` list they are discovered. */
  discovery: boolean;
  /** The name the server takes for the output limit; the other name is renamed to it. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** Body fields the server refuses (400/422): left out of the request. */
  unsupported: readonly string[];
  /** Fields of each message the server refuses (Groq: `messages[].name`): left out of every message. */
  unsupportedMessageFields?: readonly string[];
  /** Body fields the server takes under another name (OpenAI name → the server's). */
  renamed?: Readonly<Record<string, string>>;
  /** Whether streams take `stream_options` (the gateway asks for usage in the last chunk with it). */
  streamOptions: boolean;
  /** The documentation the entry follows. */
  docs: string;
}

const PRESET_DATA = {
  openrouter: {
    title: 'OpenRouter', baseUrl: 'https://openrouter.ai/api/v1', keyEnv: 'OPENROUTER_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://openrouter.ai/docs/api-reference/overview',
  },
  groq: {
    // "logprobs, logit_bias, top_logprobs, messages[].name … will result in a 400 error"; `n` must be 1.
    title: 'Groq', baseUrl: 'https://api.groq.com/openai/v1', keyEnv: 'GROQ_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_completion_tokens', unsupported: ['logprobs', 'logit_bias', 'top_logprobs'], unsupportedMessageFields: ['name'], streamOptions: true,
    docs: 'https://console.groq.com/docs/openai',
  },
  mistral: {
    // Mistral validates strictly (422 on unknown fields); its seed is `random_seed`.
    title: 'Mistral', baseUrl: 'https://api.mistral.ai/v1', keyEnv: 'MISTRAL_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: ['logit_bias', 'logprobs', 'top_logprobs', 'user', 'stream_options', 'service_tier', 'store'],
    renamed: { seed: 'random_seed' }, streamOptions: false,
    docs: 'https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post',
  },
  deepseek: {
    // The documented base_url is the host alone (`/v1` is accepted "for compatibility", and is no model version).
    title: 'DeepSeek', baseUrl: 'https://api.deepseek.com', keyEnv: 'DEEPSEEK_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: ['logit_bias'], streamOptions: true,
    docs: 'https://api-docs.deepseek.com/',
  },
  together: {
    title: 'Together AI', baseUrl: 'https://api.together.xyz/v1', keyEnv: 'TOGETHER_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://docs.together.ai/docs/openai-api-compatibility',
  },
  fireworks: {
    title: 'Fireworks AI', baseUrl: 'https://api.fireworks.ai/inference/v1', keyEnv: 'FIREWORKS_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://docs.fireworks.ai/tools-sdks/openai-compatibility',
  },
  xai: {
    title: 'xAI', baseUrl: 'https://api.x.ai/v1', keyEnv: 'XAI_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_completion_tokens', unsupported: [], streamOptions: true,
    docs: 'https://docs.x.ai/api/integrations',
  },
  perplexity: {
    // No model list endpoint: give `models`.
    title: 'Perplexity', baseUrl: 'https://api.perplexity.ai', keyEnv: 'PERPLEXITY_API_KEY', keyRequired: true, discovery: false,
    maxTokensField: 'max_tokens', unsupported: ['logit_bias', 'logprobs', 'top_logprobs', 'n', 'stream_options'], streamOptions: false,
    docs: 'https://docs.perplexity.ai/docs/sonar/openai-compatibility',
  },
  cerebras: {
    // "These fields will result in a 400 error: frequency_penalty, logit_bias, presence_penalty, parallel_tool_calls, service_tier"
    title: 'Cerebras', baseUrl: 'https://api.cerebras.ai/v1', keyEnv: 'CEREBRAS_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_completion_tokens', unsupported: ['frequency_penalty', 'presence_penalty', 'logit_bias', 'parallel_tool_calls', 'service_tier'], streamOptions: true,
    docs: 'https://inference-docs.cerebras.ai/resources/openai',
  },
  deepinfra: {
    title: 'DeepInfra', baseUrl: 'https://api.deepinfra.com/v1/openai', keyEnv: 'DEEPINFRA_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://deepinfra.com/docs/openai_api',
  },
  nebius: {
    // AI Studio is now Nebius Token Factory, at its own API host (api.studio.nebius.com was the old one).
    title: 'Nebius Token Factory', baseUrl: 'https://api.tokenfactory.nebius.com/v1', keyEnv: 'NEBIUS_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://docs.tokenfactory.nebius.com/api-reference/introduction',
  },
  novita: {
    // Novita's own LLM API page gives /v3/openai (some integrations use /openai; the documented one is kept).
    title: 'Novita AI', baseUrl: 'https://api.novita.ai/v3/openai', keyEnv: 'NOVITA_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://novita.ai/docs/guides/llm-api',
  },
  hyperbolic: {
    title: 'Hyperbolic', baseUrl: 'https://api.hyperbolic.xyz/v1', keyEnv: 'HYPERBOLIC_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://docs.hyperbolic.xyz/docs/rest-api',
  },
  sambanova: {
    title: 'SambaNova Cloud', baseUrl: 'https://api.sambanova.ai/v1', keyEnv: 'SAMBANOVA_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: ['logit_bias', 'logprobs', 'top_logprobs', 'presence_penalty', 'frequency_penalty'], streamOptions: true,
    docs: 'https://docs.sambanova.ai/docs/en/features/openai-compatibility',
  },
  moonshot: {
    // The international platform; accounts on platform.moonshot.cn set base_url = "https://api.moonshot.cn/v1".
    title: 'Moonshot AI (Kimi)', baseUrl: 'https://api.moonshot.ai/v1', keyEnv: 'MOONSHOT_API_KEY', keyRequired: true, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://platform.kimi.ai/docs/api/overview',
  },
  dashscope: {
    // International (Singapore) endpoint; mainland China accounts use https://dashscope.aliyuncs.com/compatible-mode/v1.
    title: 'Alibaba Cloud Model Studio (DashScope)', baseUrl: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1', keyEnv: 'DASHSCOPE_API_KEY',
    keyRequired: true, discovery: true, maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope',
  },
  ollama: {
    title: 'Ollama', baseUrl: 'http://127.0.0.1:11434/v1', baseUrlEnv: 'OLLAMA_HOST', keyRequired: false, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://github.com/ollama/ollama/blob/main/docs/openai.md',
  },
  vllm: {
    // `vllm serve --api-key` (or VLLM_API_KEY) makes the server check a bearer key.
    title: 'vLLM', baseUrl: 'http://127.0.0.1:8000/v1', keyEnv: 'VLLM_API_KEY', baseUrlEnv: 'VLLM_BASE_URL', keyRequired: false, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html',
  },
  lmstudio: {
    title: 'LM Studio', baseUrl: 'http://127.0.0.1:1234/v1', baseUrlEnv: 'LMSTUDIO_BASE_URL', keyRequired: false, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://lmstudio.ai/docs/app/api/endpoints/openai',
  },
  llamacpp: {
    // llama-server: `--api-key` (or LLAMA_API_KEY) makes it check a bearer key.
    title: 'llama.cpp server', baseUrl: 'http://127.0.0.1:8080/v1', keyEnv: 'LLAMA_API_KEY', baseUrlEnv: 'LLAMACPP_BASE_URL', keyRequired: false, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md',
  },
  localai: {
    title: 'LocalAI', baseUrl: 'http://127.0.0.1:8080/v1', keyEnv: 'LOCALAI_API_KEY', baseUrlEnv: 'LOCALAI_BASE_URL', keyRequired: false, discovery: true,
    maxTokensField: 'max_tokens', unsupported: [], streamOptions: true,
    docs: 'https://localai.io/features/openai-functions/',
  },
} as const satisfies Record<string, ProviderPreset>;

export type PresetName = keyof typeof PRESET_DATA;
export const PROVIDER_PRESETS: Readonly<Record<PresetName, ProviderPreset>> = PRESET_DATA;
export const PRESET_NAMES = Object.keys(PROVIDER_PRESETS) as [PresetName, ...PresetName[]];

export function presetOf(name: string | undefined): ProviderPreset | undefined {
  return name !== undefined && Object.hasOwn(PROVIDER_PRESETS, name) ? PROVIDER_PRESETS[name as PresetName] : undefined;
}
