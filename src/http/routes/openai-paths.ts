import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../../errors/index.js';
import type { WireFormat } from '../../core/index.js';
import type { RouteDoc } from '../../openapi/index.js';

/** The model an OpenAI-format request names: the deployment of an Azure OpenAI path, else the body's `model`. */
export interface OpenAIRouteModel {
  deployment?: string;
}

export type OpenAIRouteHandler = (request: FastifyRequest, reply: FastifyReply, route: OpenAIRouteModel) => Promise<void>;

const DEPLOYMENT = /^[\x21-\x7e]{1,256}$/;

/** The route of a path without a deployment: one object for every such request. */
const NO_DEPLOYMENT: OpenAIRouteModel = Object.freeze({});

/** Azure OpenAI clients send the API version they speak; accepted, not acted on. */
const AZURE_QUERY = z.object({ 'api-version': z.string().optional().describe('The Azure OpenAI API version the client speaks (accepted; one version of each API is served).') });

export interface OpenAIRouteOptions {
  /** The OpenAPI entry of the operation (aliases get it with their path noted). */
  doc: RouteDoc;
  /** The wire format errors are answered in; OpenAI's unless the operation has its own (`responses`). */
  format?: WireFormat;
  /** What the deployment path's entry says otherwise (a body whose `model` is optional, its example). */
  deploymentDoc?: Partial<RouteDoc>;
}

/**
 * The paths an OpenAI-format POST operation (`/chat/completions`, `/embeddings`, `/responses`) is served at: its own
 * `/v1{path}`, and the paths Azure OpenAI clients call — `/openai/v1{path}` (Azure's v1 API, model in the body),
 * `/openai{path}` (model in the body, as `AzureOpenAI` sends `/responses`) and `/openai/deployments/{deployment}{path}`,
 * where the deployment name is the model (resolved like any model name: `model_map`, provider prefixes, peers).
 * Azure's `api-version` query parameter is accepted and ignored: this node speaks one version of each API.
 * Errors are in the route's format (OpenAI's error shape) on every one of them, and each path is in the OpenAPI
 * document with the operation's `doc`. Adding an operation is one call —
 * `postOpenAIRoute(app, '/responses', { format: 'responses', doc }, handler)` — the handler taking `route.deployment`
 * (when set) as the model.
 * https://learn.microsoft.com/azure/ai-services/openai/reference
 */
export function postOpenAIRoute(app: FastifyInstance, path: string, options: OpenAIRouteOptions, handler: OpenAIRouteHandler): void {
  const format = options.format ?? 'openai';
  const { doc } = options;
  app.post(`/v1${path}`, { config: { format, doc } }, (request, reply) => handler(request, reply, NO_DEPLOYMENT));
  const alias = { ...doc, summary: `${doc.summary} (Azure OpenAI path)`, query: AZURE_QUERY };
  for (const url of [`/openai/v1${path}`, `/openai${path}`]) {
    app.post(url, { config: { format, doc: alias } }, (request, reply) => handler(request, reply, NO_DEPLOYMENT));
  }
  const deploymentDoc: RouteDoc = {
    ...alias,
    summary: `${doc.summary} (Azure OpenAI deployment)`,
    description: `${doc.description ?? ''} The deployment name is the model; a \`model\` in the body is ignored.`.trim(),
    params: z.object({ deployment: z.string().describe('The deployment name, taken as the model (resolved like any model name).') }),
    ...options.deploymentDoc,
  };
  app.post<{ Params: { deployment: string } }>(`/openai/deployments/:deployment${path}`, { config: { format, doc: deploymentDoc } }, (request, reply) => {
    const { deployment } = request.params;
    if (!DEPLOYMENT.test(deployment)) throw badRequest('The deployment name in the path must be 1-256 printable characters.', 'deployment');
    return handler(request, reply, { deployment });
  });
}
