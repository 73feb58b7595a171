import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../errors/index.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { bodyObject, gatewayRequest } from '../context.js';
import { sendGatewayResponse } from '../send.js';
import { chatCompletionsDoc, countTokensDoc, embeddingsDoc, geminiDoc, messagesDoc } from './chat-docs.js';
import { postOpenAIRoute, type OpenAIRouteModel } from './openai-paths.js';

/**
 * The client-facing generation APIs: OpenAI Chat Completions and Embeddings (also at the Azure OpenAI client paths),
 * Anthropic Messages and count_tokens, Gemini generateContent / streamGenerateContent / embedContent /
 * batchEmbedContents / countTokens.
 */
export function chatRoutes(pipeline: Pipeline): FastifyPluginAsync {
  return async (app) => {
    postOpenAIRoute(app, '/chat/completions', { doc: chatCompletionsDoc }, async (request, reply, route) => {
      const body = openaiBody(request, route);
      const req = gatewayRequest(request, { format: 'openai', operation: 'chat', body, model: body.model, stream: body.stream === true });
      await sendGatewayResponse(reply, await pipeline.handle(req), 'openai');
    });

    postOpenAIRoute(app, '/embeddings', { doc: embeddingsDoc }, async (request, reply, route) => {
      const body = openaiBody(request, route);
      const req = gatewayRequest(request, { format: 'openai', operation: 'embeddings', body, model: body.model, stream: false });
      await sendGatewayResponse(reply, await pipeline.handle(req), 'openai');
    });

    app.post('/v1/messages', { config: { format: 'anthropic', doc: messagesDoc } }, async (request, reply) => {
      const body = bodyObject(request);
      const req = gatewayRequest(request, { format: 'anthropic', operation: 'chat', body, model: body.model, stream: body.stream === true });
      await sendGatewayResponse(reply, await pipeline.handle(req), 'anthropic');
    });

    app.post('/v1/messages/count_tokens', { config: { format: 'anthropic', doc: countTokensDoc } }, async (request, reply) => {
      const body = bodyObject(request);
      const req = gatewayRequest(request, { format: 'anthropic', operation: 'count_tokens', body, model: body.model, stream: false });
      await sendGatewayResponse(reply, await pipeline.handle(req), 'anthropic');
    });

    // Gemini puts model and method in the path: /v1beta/models/{model}:{method}, and /v1/models/… (the API's stable
    // version, which the @google/genai SDK calls by default).
    const gemini = async (request: FastifyRequest<{ Params: { modelAction: string } }>, reply: FastifyReply) => {
      const { modelAction } = request.params;
      const colon = modelAction.lastIndexOf(':');
      const model = colon > 0 ? modelAction.slice(0, colon) : '';
      const method = colon > 0 ? modelAction.slice(colon + 1) : '';
      const body = bodyObject(request);
      const operation = GEMINI_METHODS[method];
      if (!operation) throw badRequest(`Unknown Gemini method '${method}'; supported: ${Object.keys(GEMINI_METHODS).join(', ')}.`);
      const stream = method === 'streamGenerateContent';
      if (stream && (request.query as Record<string, string>).alt !== 'sse') {
        throw badRequest('streamGenerateContent is served as Server-Sent Events only: add ?alt=sse.', 'alt');
      }
      const req = gatewayRequest(request, { format: 'gemini', operation, body: geminiBody(method, model, body), model, stream });
      const response = await pipeline.handle(req);
      if (method === 'embedContent' && response.body.kind === 'json') {
        // embedContent is batchEmbedContents with one request; answer in its own single-embedding shape.
        const batch = response.body.value as { embeddings?: unknown[] };
        response.body = { kind: 'json', value: { embedding: batch.embeddings?.[0] } };
      }
      await sendGatewayResponse(reply, response, 'gemini');
    };
    for (const version of GEMINI_VERSIONS) app.post(`/${version}/models/:modelAction`, { config: { format: 'gemini', doc: geminiDoc } }, gemini);
  };
}

const GEMINI_VERSIONS = ['v1beta', 'v1'];

/** The body of an OpenAI-format request; on an Azure deployment path the deployment is its model. */
function openaiBody(request: FastifyRequest, route: OpenAIRouteModel): Record<string, unknown> {
  const body = bodyObject(request);
  return route.deployment === undefined ? body : { ...body, model: route.deployment };
}

const GEMINI_METHODS: Record<string, 'chat' | 'embeddings' | 'count_tokens'> = {
  generateContent: 'chat',
  streamGenerateContent: 'chat',
  embedContent: 'embeddings',
  batchEmbedContents: 'embeddings',
  countTokens: 'count_tokens',
};

/** Normalises Gemini bodies: embedContent → batchEmbedContents, countTokens' `generateContentRequest` unwrapped. */
function geminiBody(method: string, model: string, body: Record<string, unknown>): Record<string, unknown> {
  if (method === 'embedContent') return { requests: [{ model: `models/${model}`, ...body }] };
  if (method === 'countTokens' && body.generateContentRequest && typeof body.generateContentRequest === 'object') {
    const { model: _model, ...rest } = body.generateContentRequest as Record<string, unknown>;
    return rest;
  }
  return body;
}
