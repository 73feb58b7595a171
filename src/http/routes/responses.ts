import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { badRequest, notFound } from '../../errors/index.js';
import { inputItems, parseResponsesRequest, type ResponsesInputItem, type ResponsesRequest } from '../../formats/responses/index.js';
import { zodIssueToBadRequest } from '../../formats/validation.js';
import { bodyObject, gatewayRequest } from '../context.js';
import { sendGatewayResponse } from '../send.js';
import { postOpenAIRoute } from './openai-paths.js';
import { createResponseDoc, deploymentResponseDoc, deleteResponseDoc, inputItemsDoc, inputTokensDoc, retrieveResponseDoc } from './responses-docs.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { captureResponse, conversationBefore, ownerOf, resolveItemReferences, type ChainLimits, type StoredResponses } from '../../responses/index.js';

export interface ResponsesRouteDeps {
  pipeline: Pipeline;
  store: StoredResponses;
  /** How far a `previous_response_id` chain is rebuilt: responses walked back, bytes of rebuilt conversation. */
  limits: ChainLimits;
  logger: Logger;
}

/**
 * Paths the stored-response routes are served at: OpenAI's, and Azure OpenAI's (its v1 API, and `/openai/responses` as
 * the `AzureOpenAI` client sends it); `POST` is registered by `postOpenAIRoute`, which adds the deployment form.
 * https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses
 */
export const RESPONSES_PATHS = ['/v1/responses', '/openai/v1/responses', '/openai/responses'];

const ownerOfRequest = (request: FastifyRequest) => ownerOf(request.principal ?? { kind: 'public' });

/** Ids for input items that came without one, so `input_items` can page by id (`msg_…` for messages, as OpenAI). */
function withIds(items: ResponsesInputItem[], responseId: string): Array<Record<string, unknown>> {
  const base = responseId.replace(/^resp_/, '');
  return items.map((item, i) => (typeof item.id === 'string' ? item : { id: `${(item.type ?? 'message') === 'message' ? 'msg' : 'item'}_${base}_in${i}`, ...item }));
}

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().min(1).optional(),
}).loose();

/**
 * The Responses API: `POST /v1/responses` through the pipeline like every other client format, plus the stored
 * responses (`store`, default true as at OpenAI): `previous_response_id` rebuilt here for any provider — before the
 * pipeline, so sanitization, quotas and the mesh see the whole conversation — and `GET`/`DELETE /v1/responses/{id}`,
 * `GET /v1/responses/{id}/input_items`, each only for the principal that created the response.
 */
export function responsesRoutes(deps: ResponsesRouteDeps): FastifyPluginAsync {
  const { pipeline, store, logger } = deps;

  /**
   * The body the pipeline gets: the whole conversation when it continues a stored response, `item_reference`s
   * resolved. `historyLength` counts the rebuilt items in front of this turn's own.
   */
  const rebuild = async (body: Record<string, unknown>, parsed: ResponsesRequest, owner: string) => {
    let sent = body;
    let historyLength = 0;
    if (parsed.previous_response_id) {
      const history = await conversationBefore(store, parsed.previous_response_id, owner, deps.limits);
      historyLength = history.length;
      const { previous_response_id: _previous, ...rest } = body;
      sent = { ...rest, input: [...history, ...inputItems(parsed.input)] };
    }
    if (Array.isArray(sent.input)) {
      // `param` counts in the client's own input, not the rebuilt history in front of it.
      const input = await resolveItemReferences(store, sent.input as Array<Record<string, unknown>>, owner, historyLength);
      if (input !== sent.input) sent = { ...sent, input };
    }
    return { sent, historyLength };
  };

  /** `POST …/responses`: `deployment` (Azure's path form) names the model in place of the body's `model`. */
  const create = async (request: FastifyRequest, reply: FastifyReply, deployment?: string) => {
    const body = deployment === undefined ? bodyObject(request) : { ...bodyObject(request), model: deployment };
    const parsed = parseResponsesRequest(body);
    const owner = ownerOfRequest(request);
    const previousId = parsed.previous_response_id ?? null;
    const { sent, historyLength } = await rebuild(body, parsed, owner);
    const req = gatewayRequest(request, { format: 'responses', operation: 'chat', body: sent, model: body.model, stream: body.stream === true });
    const response = await pipeline.handle(req);
    if (parsed.store !== false) {
      const createdAt = Date.now();
      response.body = await captureResponse(response.body, async (answer) => {
        if (typeof answer.id !== 'string') return;
        // A translated answer is ours to complete; pass-through bytes stay as the provider sent them.
        if (response.body.kind === 'json' && previousId) answer.previous_response_id = previousId;
        // This turn's input as it went upstream (sanitized), without the rebuilt history in front of it.
        const turn = inputItems(response.requestBody.input as ResponsesInputItem[] | string | undefined).slice(historyLength);
        await store.put({ id: answer.id, owner, createdAt, previous: previousId, input: withIds(turn, answer.id), response: { ...answer, previous_response_id: previousId } })
          .catch((err: Error) => logger.error({ err: err.message, requestId: req.id, responseId: answer.id }, 'stored response could not be written'));
      });
    }
    await sendGatewayResponse(reply, response, 'responses');
  };

  /** `POST …/responses/input_tokens`: the input a request would send (a continued conversation whole), counted. */
  const countInput = async (request: FastifyRequest, reply: FastifyReply) => {
    const body = bodyObject(request);
    const parsed = parseResponsesRequest(body);
    const { sent } = await rebuild(body, parsed, ownerOfRequest(request));
    const req = gatewayRequest(request, { format: 'responses', operation: 'count_tokens', body: sent, model: body.model, stream: false });
    await sendGatewayResponse(reply, await pipeline.handle(req), 'responses');
  };

  const stored = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const found = await store.get(request.params.id, ownerOfRequest(request));
    if (!found) throw notFound(`No response with id '${request.params.id}' is stored for this caller.`, 'response_not_found');
    return found;
  };

  return async (app) => {
    const config = { format: 'responses' as const };
    postOpenAIRoute(app, '/responses', { format: 'responses', doc: createResponseDoc, deploymentDoc: deploymentResponseDoc }, (request, reply, route) => create(request, reply, route.deployment));
    for (const path of RESPONSES_PATHS) {
      app.post(`${path}/input_tokens`, { config: { ...config, doc: inputTokensDoc } }, (request, reply) => countInput(request, reply));

      app.get<{ Params: { id: string } }>(`${path}/:id`, { config: { ...config, doc: retrieveResponseDoc } }, async (request) => {
        const { stream } = request.query as Record<string, unknown>;
        if (stream !== undefined && stream !== 'false') {
          throw badRequest('Replaying a stored response as a stream is not supported; fetch it without `stream`.', 'stream', 'unsupported_parameter');
        }
        return (await stored(request)).response;
      });

      app.delete<{ Params: { id: string } }>(`${path}/:id`, { config: { ...config, doc: deleteResponseDoc } }, async (request) => {
        if (!(await store.delete(request.params.id, ownerOfRequest(request)))) {
          throw notFound(`No response with id '${request.params.id}' is stored for this caller.`, 'response_not_found');
        }
        return { id: request.params.id, object: 'response.deleted', deleted: true };
      });

      app.get<{ Params: { id: string } }>(`${path}/:id/input_items`, { config: { ...config, doc: inputItemsDoc } }, async (request) => {
        const query = listQuery.safeParse(request.query);
        if (!query.success) throw zodIssueToBadRequest(query.error);
        const found = await stored(request);
        const { limit, order, after } = query.data;
        // OpenAI lists the newest item first by default (`order=desc`).
        let items = order === 'desc' ? [...found.input].reverse() : found.input;
        if (after) {
          const at = items.findIndex((item) => item.id === after);
          if (at < 0) throw badRequest(`No input item '${after}' in response '${request.params.id}'.`, 'after');
          items = items.slice(at + 1);
        }
        const data = items.slice(0, limit);
        return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: items.length > limit };
      });
    }
  };
}
