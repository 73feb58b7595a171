import { ConfigError, Secret, type ProviderFormat } from '../../core/index.js';
import type { ProviderConfig } from '../../core-config/index.js';
import type { Operation, ProviderEndpoints } from '../types.js';
import { readServiceAccountKey } from './service-account.js';
import { serviceAccountTokenSource, staticTokenSource, type AccessTokenSource } from './token-source.js';

/** The `anthropic_version` Claude on Vertex takes in the body (https://docs.anthropic.com/en/api/claude-on-vertex-ai). */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';
export const DEFAULT_VERTEX_REGION = 'us-central1';

/** Claude models are Anthropic's publisher models on Vertex; every other model is Google's (Gemini). */
export const vertexPublisherOf = (model: string): 'anthropic' | 'google' => (/^claude/i.test(model) ? 'anthropic' : 'google');

const nonEmpty = (value: string | undefined): value is string => typeof value === 'string' && value !== '';

/**
 * Credentials in this order: `vertex.access_token`, `vertex.credentials_file`, then GOOGLE_APPLICATION_CREDENTIALS
 * (a service-account key) and GOOGLE_OAUTH_ACCESS_TOKEN. A key file is read at start, so a broken one stops the node
 * with a message instead of failing every request.
 */
function resolveVertexAuth(config: ProviderConfig, env: NodeJS.ProcessEnv): { tokens: AccessTokenSource; projectOfKey?: string } {
  const vertex = config.vertex;
  if (vertex?.access_token && !vertex.access_token.isEmpty) return { tokens: staticTokenSource(() => vertex.access_token!.reveal()) };
  const file = vertex?.credentials_file ?? (nonEmpty(env.GOOGLE_APPLICATION_CREDENTIALS) ? env.GOOGLE_APPLICATION_CREDENTIALS : undefined);
  if (file) {
    const key = readServiceAccountKey(file, config.id);
    return { tokens: serviceAccountTokenSource(key, config.id), projectOfKey: key.projectId };
  }
  if (nonEmpty(env.GOOGLE_OAUTH_ACCESS_TOKEN)) {
    const token = new Secret(env.GOOGLE_OAUTH_ACCESS_TOKEN);
    return { tokens: staticTokenSource(() => token.reveal()) };
  }
  throw new ConfigError(
    `provider ${config.id}: no Google credentials: set vertex.credentials_file (a service-account key) or vertex.access_token, `
    + 'or GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_OAUTH_ACCESS_TOKEN',
  );
}

/**
 * Google Vertex AI (https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest): Gemini models through
 * `generateContent` / `streamGenerateContent?alt=sse` and Claude models through `rawPredict` / `streamRawPredict`,
 * on `https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{model}:{method}`
 * (region `global`: https://aiplatform.googleapis.com). Authenticated with an OAuth bearer token.
 */
export function vertexEndpoints(config: ProviderConfig, env: NodeJS.ProcessEnv): ProviderEndpoints {
  const { tokens, projectOfKey } = resolveVertexAuth(config, env);
  const project = config.vertex?.project ?? [env.GOOGLE_CLOUD_PROJECT, projectOfKey].find(nonEmpty);
  if (!project) throw new ConfigError(`provider ${config.id}: Vertex needs a project: set vertex.project (or GOOGLE_CLOUD_PROJECT)`);
  const region = config.vertex?.region ?? [env.GOOGLE_CLOUD_LOCATION, env.CLOUD_ML_REGION].find(nonEmpty) ?? DEFAULT_VERTEX_REGION;
  const host = region === 'global' ? 'https://aiplatform.googleapis.com' : `https://${region}-aiplatform.googleapis.com`;
  const base = (config.base_url ?? host).replace(/\/+$/, '');
  const formatFor = (model: string): ProviderFormat => (vertexPublisherOf(model) === 'anthropic' ? 'anthropic' : 'gemini');
  return {
    format: 'gemini',
    formatFor,
    operations: new Set<Operation>(['chat']),
    url: (_op, model, stream) => {
      const publisher = vertexPublisherOf(model);
      // Claude versions are written `claude-…@20250929`; the `@` stays as the Vertex SDKs send it.
      const name = encodeURIComponent(model).replace(/%40/g, '@');
      const method = publisher === 'anthropic'
        ? (stream ? 'streamRawPredict' : 'rawPredict')
        : (stream ? 'streamGenerateContent?alt=sse' : 'generateContent');
      return `${base}/v1/projects/${encodeURIComponent(project)}/locations/${encodeURIComponent(region)}/publishers/${publisher}/models/${name}:${method}`;
    },
    headers: () => ({}),
    prepareBody: (_op, model, body) => (formatFor(model) === 'anthropic' ? claudeOnVertexBody(body) : geminiOnVertexBody(body)),
    authorize: async (_request, apiKey, signal) => ({ authorization: `Bearer ${apiKey ?? (await tokens.token(signal))}` }),
    credentialsRefused: () => tokens.invalidate(),
    refusalDetail: (status) => status === 401
      ? 'Google refused the access token (check the service-account key or access token)'
      : 'Google denied the request (PERMISSION_DENIED: the service account needs roles/aiplatform.user on the project, and the model must be enabled there)',
  };
}

/** Claude on Vertex: the model is in the URL, not the body, and `anthropic_version` is Vertex's own. */
function claudeOnVertexBody(body: Record<string, unknown>): Record<string, unknown> {
  const { model: _model, ...rest } = body;
  return { ...rest, anthropic_version: VERTEX_ANTHROPIC_VERSION };
}

/** Vertex requires a role on every content (the Gemini API defaults it to "user"). */
function geminiOnVertexBody(body: Record<string, unknown>): Record<string, unknown> {
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.every((c) => typeof (c as { role?: unknown })?.role === 'string')) return body;
  return { ...body, contents: contents.map((c) => (c && typeof c === 'object' && typeof (c as { role?: unknown }).role !== 'string' ? { ...c, role: 'user' } : c)) };
}
