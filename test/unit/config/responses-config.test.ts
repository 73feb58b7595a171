import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { endpointsFor } from '../../../src/providers/endpoints.js';

const provider = (extra: Record<string, unknown>) => ({ id: 'p', type: 'openai', api_key: 'k', ...extra });

describe('Responses API configuration', () => {
  it('serves OpenAI models at both endpoints by default, compatible servers at chat only, per model where told', () => {
    const config = parseConfig({ providers: [
      provider({ model_endpoints: { 'o3-pro': ['responses'] } }),
      { id: 'local', type: 'openai_compatible', base_url: 'http://127.0.0.1:1/v1' },
      { id: 'vllm', type: 'openai_compatible', base_url: 'http://127.0.0.1:2/v1', endpoints: ['responses', 'chat'] },
    ] }, 'test', {});
    const [openai, local, vllm] = config.providers.map((provider) => endpointsFor(provider));
    expect(openai!.chatFormats!('gpt-4o')).toEqual(['openai', 'responses']);
    expect(openai!.chatFormats!('o3-pro')).toEqual(['responses']);
    expect(openai!.url('chat', 'o3-pro', false, 'responses')).toBe('https://api.openai.com/v1/responses');
    expect(openai!.url('chat', 'gpt-4o', false, 'openai')).toBe('https://api.openai.com/v1/chat/completions');
    expect(local!.chatFormats!('llama')).toEqual(['openai']);
    expect(vllm!.chatFormats!('any')).toEqual(['responses', 'openai']);
  });

  it('refuses endpoints where they mean nothing, empty or repeated', () => {
    expect(() => parseConfig({ providers: [{ id: 'c', type: 'anthropic', api_key: 'k', endpoints: ['responses'] }] }, 'test', {})).toThrow(/endpoints apply to providers of type openai or openai_compatible/);
    expect(() => parseConfig({ providers: [provider({ endpoints: [] })] }, 'test', {})).toThrow(/endpoints/);
    expect(() => parseConfig({ providers: [provider({ endpoints: ['chat', 'chat'] })] }, 'test', {})).toThrow(/each endpoint once/);
    expect(() => parseConfig({ providers: [provider({ endpoints: ['completions'] })] }, 'test', {})).toThrow(/endpoints/);
  });

  it('takes [responses] with its own retention, and refuses unknown keys', () => {
    expect(parseConfig({}, 'test', {}).responses).toEqual({ max_chain: 1_000 });
    expect(parseConfig({ responses: { retention_days: 7, max_chain: 50 } }, 'test', {}).responses).toEqual({ retention_days: 7, max_chain: 50 });
    expect(() => parseConfig({ responses: { keep: true } }, 'test', {})).toThrow(/keep/);
  });
});
