import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../errors/index.js';
import type { WireFormat } from '../../formats/canonical.js';

/** The model an OpenAI-format request names: the deployment of an Azure OpenAI path, else the body's `model`. */
export interface OpenAIRouteModel {
  deployment?: string;
}

export type OpenAIRouteHandler = (request: FastifyRequest, reply: FastifyReply, route: OpenAIRouteModel) => Promise<void>;

const DEPLOYMENT = /^[\x21-\x7e]{1,256}$/;

/**
 * The paths an OpenAI-format POST operation (`/chat/completions`, `/embeddings`, `/responses`) is served at: its own
 * `/v1{path}`, and the paths Azure OpenAI clients call — `/openai/v1{path}` (Azure's v1 API, model in the body),
 * `/openai{path}` (model in the body, as `AzureOpenAI` sends `/responses`) and `/openai/deployments/{deployment}{path}`,
 * where the deployment name is the model (resolved like any model name: `model_map`, provider prefixes, peers).
 * Azure's `api-version` query parameter is accepted and ignored: this node speaks one version of each API.
 * Errors are in the route's format (OpenAI's error shape) on every one of them. Adding an operation is one call:
 * `postOpenAIRoute(app, '/responses', handler, { format: 'responses' })`, the handler taking `route.deployment` (when
 * set) as the model.
 * https://learn.microsoft.com/azure/ai-services/openai/reference
 */
export function postOpenAIRoute(app: FastifyInstance, path: string, handler: OpenAIRouteHandler, options: { format?: WireFormat } = {}): void {
  const config = { format: options.format ?? 'openai' };
  for (const url of [`/v1${path}`, `/openai/v1${path}`, `/openai${path}`]) {
    app.post(url, { config }, (request, reply) => handler(request, reply, {}));
  }
  app.post<{ Params: { deployment: string } }>(`/openai/deployments/:deployment${path}`, { config }, (request, reply) => {
    const { deployment } = request.params;
    if (!DEPLOYMENT.test(deployment)) throw badRequest('The deployment name in the path must be 1-256 printable characters.', 'deployment');
    return handler(request, reply, { deployment });
  });
}
