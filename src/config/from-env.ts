/**
 * Providers a node serves when started without a config file, from the environment variables each provider's own
 * SDK reads. Keys are referenced as `${VAR}` so they pass through the same Secret wrapping as a config file's.
 */
export function providersFromEnv(env: NodeJS.ProcessEnv): Array<Record<string, unknown>> {
  const providers: Array<Record<string, unknown>> = [];
  const has = (name: string) => typeof env[name] === 'string' && env[name] !== '';
  if (has('OPENAI_API_KEY')) {
    providers.push({ id: 'openai', type: 'openai', api_key: '${OPENAI_API_KEY}', ...(has('OPENAI_BASE_URL') ? { base_url: '${OPENAI_BASE_URL}' } : {}) });
  }
  if (has('ANTHROPIC_API_KEY')) {
    providers.push({ id: 'anthropic', type: 'anthropic', api_key: '${ANTHROPIC_API_KEY}', ...(has('ANTHROPIC_BASE_URL') ? { base_url: '${ANTHROPIC_BASE_URL}' } : {}) });
  }
  const geminiKey = has('GEMINI_API_KEY') ? 'GEMINI_API_KEY' : has('GOOGLE_API_KEY') ? 'GOOGLE_API_KEY' : undefined;
  if (geminiKey) providers.push({ id: 'gemini', type: 'gemini', api_key: `\${${geminiKey}}` });
  if (has('AZURE_OPENAI_API_KEY') && has('AZURE_OPENAI_ENDPOINT')) {
    providers.push({
      id: 'azure', type: 'azure_openai', api_key: '${AZURE_OPENAI_API_KEY}', base_url: '${AZURE_OPENAI_ENDPOINT}',
      ...(has('AZURE_OPENAI_DEPLOYMENT') ? { deployment: '${AZURE_OPENAI_DEPLOYMENT}', models: ['${AZURE_OPENAI_DEPLOYMENT}'] } : {}),
      ...(has('OPENAI_API_VERSION') ? { api_version: '${OPENAI_API_VERSION}' } : {}),
    });
  }
  if (has('OLLAMA_HOST')) {
    const host = env.OLLAMA_HOST!.replace(/\/+$/, '');
    const url = /^https?:\/\//.test(host) ? host : `http://${host}`;
    providers.push({ id: 'ollama', type: 'openai_compatible', base_url: `${url}/v1` });
  }
  return providers;
}
