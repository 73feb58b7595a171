import { describe, expect, it } from 'vitest';
import { PROVIDER_PRESETS, providerSchema } from '../../../src/core-config/index.js';
import { endpointsFor } from '../../../src/providers/endpoints.js';
import { applyPresetQuirks } from '../../../src/providers/preset-quirks.js';

describe('provider presets', () => {
  it('covers the providers issue 19 names, each with an https base URL (local servers: loopback) and a cited doc', () => {
    const names = ['openrouter', 'groq', 'mistral', 'deepseek', 'together', 'fireworks', 'xai', 'perplexity', 'cerebras', 'deepinfra', 'nebius',
      'novita', 'hyperbolic', 'sambanova', 'moonshot', 'dashscope', 'ollama', 'vllm', 'lmstudio', 'llamacpp', 'localai'];
    expect(Object.keys(PROVIDER_PRESETS)).toEqual(expect.arrayContaining(names));
    for (const [name, preset] of Object.entries(PROVIDER_PRESETS)) {
      expect(preset.baseUrl, name).toMatch(preset.keyRequired ? /^https:\/\// : /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(preset.docs, name).toMatch(/^https:\/\//);
      expect(preset.keyEnv ?? preset.baseUrlEnv, name).toMatch(/^[A-Z][A-Z0-9_]+$/);
    }
  });

  it('`type = "groq"` is an openai_compatible provider at Groq, keeping the preset name', () => {
    const config = providerSchema.parse({ id: 'g', type: 'groq', api_key: 'k' });
    expect(config).toMatchObject({ type: 'openai_compatible', preset: 'groq', base_url: 'https://api.groq.com/openai/v1' });
    expect(providerSchema.parse({ id: 'g', type: 'groq', api_key: 'k', base_url: 'http://127.0.0.1:9/v1' }).base_url).toBe('http://127.0.0.1:9/v1');
  });

  it('a preset without a model list needs models', () => {
    expect(providerSchema.safeParse({ id: 'p', type: 'perplexity', api_key: 'k' }).success).toBe(false);
    expect(providerSchema.safeParse({ id: 'p', type: 'perplexity', api_key: 'k', models: ['sonar'] }).success).toBe(true);
  });

  it('reads the key from the preset\'s variable when the config gives none, and stops the node without either', () => {
    const config = providerSchema.parse({ id: 'g', type: 'groq' });
    expect(endpointsFor(config, { GROQ_API_KEY: 'from-env' }).headers(undefined)).toEqual({ authorization: 'Bearer from-env' });
    expect(() => endpointsFor(config, {})).toThrow(/Groq needs a key: set api_key, api_keys or keys, or GROQ_API_KEY/);
    expect(() => endpointsFor(providerSchema.parse({ id: 'o', type: 'ollama' }), {})).not.toThrow();
  });

  it('renames the output limit, drops refused fields and stream_options where they are not taken, renames fields', () => {
    const body = { model: 'm', max_completion_tokens: 10, seed: 3, logit_bias: { 1: 2 }, stream: true, stream_options: { include_usage: true } };
    expect(applyPresetQuirks(PROVIDER_PRESETS.mistral, 'chat', body)).toEqual({ model: 'm', max_tokens: 10, random_seed: 3, stream: true });
    expect(applyPresetQuirks(PROVIDER_PRESETS.cerebras, 'chat', { max_tokens: 5, presence_penalty: 1 })).toEqual({ max_completion_tokens: 5 });
    expect(applyPresetQuirks(PROVIDER_PRESETS.mistral, 'embeddings', body)).toBe(body);
  });
});
