import { z } from 'zod';
import {
  anthropicRequestSchema, geminiRequestSchema, geminiResponseSchema, openaiChatRequestSchema, openaiEmbeddingRequestSchema,
} from '../../formats/index.js';
import type { RouteDoc } from '../../openapi/index.js';

/**
 * OpenAPI entries of the generation routes. Request bodies are the schemas the format codecs validate with; answers
 * are described by partial schemas of the fields meshgate produces (providers' extra fields pass through).
 */

const LABEL_HEADERS: RouteDoc['headers'] = {
  'x-project': { description: 'A project label for the usage record (1-128 printable ASCII characters).' },
  'x-source': { description: 'The requester (an app, a job) for the usage record (1-128 printable ASCII characters).' },
  'x-meshgate-cache': { description: 'Response cache (when the node has one): `use` (read it, store on a miss), `refresh` (store without reading) or `skip`. The answer says `x-meshgate-cache: hit | miss` when it was in play.' },
};

const STREAM = z.string().describe('Server-Sent Events, one `data:` line per chunk in the client\'s format.');

const openaiUsage = z.looseObject({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() });

const chatCompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(z.looseObject({
    index: z.number().int(),
    message: z.looseObject({ role: z.literal('assistant'), content: z.string().nullable(), tool_calls: z.array(z.looseObject({})).optional() }),
    finish_reason: z.string().nullable(),
  })),
  usage: openaiUsage.optional(),
});

const embeddingListSchema = z.looseObject({
  object: z.literal('list'),
  model: z.string(),
  data: z.array(z.looseObject({ object: z.literal('embedding'), index: z.number().int(), embedding: z.union([z.array(z.number()), z.string()]) })),
  usage: z.looseObject({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }).optional(),
});

const anthropicMessageSchema = z.looseObject({
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string(),
  content: z.array(z.looseObject({ type: z.string() })),
  stop_reason: z.string().nullable(),
  usage: z.looseObject({ input_tokens: z.number().int(), output_tokens: z.number().int() }),
});

export const chatCompletionsDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'OpenAI Chat Completions',
  description: 'Routed to a provider serving `model` (translated when it speaks another format), failing over to the next, then to mesh peers. `stream: true` answers with Server-Sent Events.',
  body: openaiChatRequestSchema,
  bodyExample: { model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 64 },
  headers: LABEL_HEADERS,
  responses: {
    200: {
      description: 'The completion (or its stream). `x-meshgate-provider` names who served it, `x-meshgate-attempts` how many tries it took.',
      schema: chatCompletionSchema,
      alternatives: { 'text/event-stream': STREAM },
      example: { id: 'chatcmpl-abc', object: 'chat.completion', created: 1764547200, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } },
    },
  },
};

export const embeddingsDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'OpenAI Embeddings',
  body: openaiEmbeddingRequestSchema,
  bodyExample: { model: 'text-embedding-3-small', input: ['first text', 'second text'] },
  headers: LABEL_HEADERS,
  responses: { 200: { description: 'One embedding per input.', schema: embeddingListSchema } },
};

export const messagesDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'Anthropic Messages',
  description: 'The Anthropic Messages API; `anthropic-beta` is passed on to Anthropic providers. `stream: true` answers with Server-Sent Events.',
  body: anthropicRequestSchema,
  bodyExample: { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Say hello' }] },
  headers: { ...LABEL_HEADERS, 'anthropic-version': { description: 'The Anthropic API version the client speaks.' }, 'anthropic-beta': { description: 'Anthropic beta features, passed on to Anthropic providers.' } },
  responses: { 200: { description: 'The message (or its stream).', schema: anthropicMessageSchema, alternatives: { 'text/event-stream': STREAM } } },
};

export const countTokensDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'Anthropic count_tokens',
  body: anthropicRequestSchema.partial({ max_tokens: true }),
  bodyExample: { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'How many tokens is this?' }] },
  headers: LABEL_HEADERS,
  responses: { 200: { description: 'The input token count.', schema: z.object({ input_tokens: z.number().int() }), example: { input_tokens: 14 } } },
};

export const geminiDoc: RouteDoc = {
  tag: 'Client APIs',
  summary: 'Gemini generateContent, streamGenerateContent, embedContent, batchEmbedContents, countTokens',
  description: 'The path segment is `{model}:{method}`, e.g. `gemini-2.5-flash:generateContent`; `streamGenerateContent` needs `?alt=sse`. Bodies are the Gemini API\'s; the generateContent body is shown.',
  params: z.object({ modelAction: z.string().describe('`{model}:{method}`, e.g. `gemini-2.5-flash:generateContent`.') }),
  query: z.object({ alt: z.literal('sse').optional().describe('Required by streamGenerateContent.') }),
  body: geminiRequestSchema,
  bodyExample: { contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }] },
  headers: LABEL_HEADERS,
  responses: { 200: { description: 'The Gemini answer of the method (generateContent\'s shown), or its stream.', schema: geminiResponseSchema, alternatives: { 'text/event-stream': STREAM } } },
};
