import { PROVIDER_PRESETS, type PresetName, type ProviderPreset } from '../core-config/index.js';

/**
 * Providers a node serves when started without a config file, from the environment variables each provider's own
 * SDK reads. Keys are referenced as `${VAR}` so they pass through the same Secret wrapping as a config file's. A
 * provider whose variables are set but not enough to serve anything is left out, and `notes` says why (a node that
 * could start with the others should not refuse to for it).
 */
export function providersFromEnv(env: NodeJS.ProcessEnv, notes: string[] = []): Array<Record<string, unknown>> {
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
  // Azure serves deployments, named by their owner: without a name there is nothing to route to (and no list of them
  // on the data-plane API to discover).
  if (has('AZURE_OPENAI_API_KEY') && has('AZURE_OPENAI_ENDPOINT') && !has('AZURE_OPENAI_DEPLOYMENT')) {
    notes.push('Azure OpenAI: AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT are set but AZURE_OPENAI_DEPLOYMENT is not; Azure is left out (set it, or use a config file with `deployments`).');
  } else if (has('AZURE_OPENAI_API_KEY') && has('AZURE_OPENAI_ENDPOINT')) {
    providers.push({
      id: 'azure', type: 'azure_openai', api_key: '${AZURE_OPENAI_API_KEY}', base_url: '${AZURE_OPENAI_ENDPOINT}',
      deployment: '${AZURE_OPENAI_DEPLOYMENT}', models: ['${AZURE_OPENAI_DEPLOYMENT}'],
      ...(has('OPENAI_API_VERSION') ? { api_version: '${OPENAI_API_VERSION}' } : {}),
    });
  }
  // Every named preset whose variable is set: hosted ones by their key, local servers by their address.
  for (const [name, preset] of Object.entries(PROVIDER_PRESETS) as Array<[PresetName, ProviderPreset]>) {
    const keyed = preset.keyEnv !== undefined && has(preset.keyEnv);
    const located = preset.baseUrlEnv !== undefined && has(preset.baseUrlEnv);
    if (preset.keyRequired ? !keyed : !located) continue;
    const baseUrl = !located ? {} : name === 'ollama' ? { base_url: `${ollamaUrl(env.OLLAMA_HOST!)}/v1` } : { base_url: `\${${preset.baseUrlEnv}}` };
    providers.push({ id: name, type: name, ...baseUrl, ...(keyed ? { api_key: `\${${preset.keyEnv}}` } : {}) });
  }
  return providers;
}

/**
 * OLLAMA_HOST as Ollama itself reads it: with a scheme, taken as is (default ports 80/443); without one, http and
 * port 11434 unless a port is given (the common `OLLAMA_HOST=0.0.0.0` means 0.0.0.0:11434, not port 80).
 */
export function ollamaUrl(raw: string): string {
  let host = raw.trim().replace(/\/+$/, '');
  if (/^https?:\/\//.test(host)) return host;
  if (/^:\d+$/.test(host)) host = `127.0.0.1${host}`; // ":11500": a port on this machine
  const hasPort = /^\[[^\]]+\]:\d+$/.test(host) || /^[^:[\]]+:\d+$/.test(host);
  if (hasPort) return `http://${host}`;
  const bare = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host; // a bare IPv6 address
  return `http://${bare}:11434`;
}

