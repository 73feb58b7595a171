import { z } from 'zod';
import { responsesRequestSchema } from '../../formats/responses/index.js';
import type { RouteDoc } from '../../openapi/index.js';

/**
 * OpenAPI entries of the Responses API routes. The request body is the schema the Responses codec validates with;
 * answers are partial schemas of the fields meshgate produces (an OpenAI provider's extra fields pass through).
 */

const LABEL_HEADERS: RouteDoc['headers'] = {
  'x-project': { description: 'A project label for the usage record (1-128 printable ASCII characters).' },
  'x-source': { description: 'The requester (an app, a job) for the usage record (1-128 printable ASCII characters).' },
};

const STREAM = z.string().describe('Server-Sent Events: `event: <type>` and `data:` with the event, numbered by `sequence_number`.');

const responseSchema = z.looseObject({
  id: z.string(),
  object: z.literal('response'),
  created_at: z.number().int(),
  status: z.enum(['completed', 'incomplete', 'failed', 'in_progress']),
  model: z.string(),
  output: z.array(z.looseObject({ type: z.string() })),
  incomplete_details: z.looseObject({ reason: z.string() }).nullable(),
  previous_response_id: z.string().nullable(),
  usage: z.looseObject({ input_tokens: z.number().int(), output_tokens: z.number().int(), total_tokens: z.number().int() }).nullable(),
});

const RESPONSE_EXAMPLE = {
  id: 'resp_0f5c3a', object: 'response', created_at: 1764547200, status: 'completed', model: 'claude-sonnet-4-5', previous_response_id: null, incomplete_details: null,
  output: [{ id: 'msg_0f5c3a_0', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello!', annotations: [] }] }],
  usage: { input_tokens: 9, output_tokens: 2, total_tokens: 11 },
};

const idParams = z.object({ id: z.string().describe('The response id (`resp_…`).') });

export const createResponseDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'OpenAI Responses API',
  description: 'Routed like every client format: passed through to an OpenAI provider\'s `/v1/responses`, translated for any other. With `store` (default true) the response is kept for the caller; `previous_response_id` continues a stored one on any provider (the node rebuilds the conversation). `stream: true` answers with the Responses event stream.',
  body: responsesRequestSchema,
  bodyExample: { model: 'gpt-4o', instructions: 'Be brief.', input: 'Say hello', max_output_tokens: 64 },
  headers: LABEL_HEADERS,
  responses: { 200: { description: 'The response (or its event stream).', schema: responseSchema, alternatives: { 'text/event-stream': STREAM }, example: RESPONSE_EXAMPLE } },
};

/** What the Azure deployment path's entry says otherwise: the model comes from the path, so the body may omit it. */
export const deploymentResponseDoc: Partial<RouteDoc> = {
  body: responsesRequestSchema.partial({ model: true }),
  bodyExample: { input: 'Say hello' },
};

export const inputTokensDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'Responses input token count',
  description: 'Counted by an Anthropic or Gemini provider; an estimate (`x-meshgate-estimated: true`) for providers that cannot count. A `previous_response_id` conversation is counted whole.',
  body: responsesRequestSchema,
  bodyExample: { model: 'claude-sonnet-4-5', input: 'How many tokens is this?' },
  headers: LABEL_HEADERS,
  responses: { 200: { description: 'The input token count.', schema: z.object({ object: z.literal('response.input_tokens'), input_tokens: z.number().int() }), example: { object: 'response.input_tokens', input_tokens: 14 } } },
};

export const retrieveResponseDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'A stored response',
  description: 'Only the principal that created it sees it (404 for anyone else).',
  params: idParams,
  responses: { 200: { description: 'The response as it was returned.', schema: responseSchema, example: RESPONSE_EXAMPLE } },
};

export const deleteResponseDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'Delete a stored response',
  description: 'Removes the node\'s copy (an OpenAI provider keeps its own unless the request had `store: false`).',
  params: idParams,
  responses: { 200: { description: 'Deleted.', schema: z.object({ id: z.string(), object: z.literal('response.deleted'), deleted: z.literal(true) }) } },
};

export const inputItemsDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'The input items of a stored response',
  params: idParams,
  query: z.object({
    limit: z.number().int().min(1).max(100).optional().describe('Items per page (default 20).'),
    order: z.enum(['asc', 'desc']).optional().describe('`desc` (default): newest first.'),
    after: z.string().optional().describe('The item id to list after.'),
  }),
  responses: {
    200: {
      description: 'A page of input items.',
      schema: z.object({ object: z.literal('list'), data: z.array(z.looseObject({ id: z.string(), type: z.string() })), first_id: z.string().nullable(), last_id: z.string().nullable(), has_more: z.boolean() }),
    },
  },
};
