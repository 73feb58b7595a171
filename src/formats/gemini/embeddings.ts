import { z } from 'zod';
import { UpstreamError, badRequest } from '../../errors/index.js';
import type { CanonicalEmbeddingRequest, CanonicalEmbeddingResponse } from '../canonical.js';
import type { RequestContext, TranslatedRequest } from '../codec.js';
import { zodIssueToBadRequest } from '../validation.js';
import { geminiUpstreamError } from './response/upstream-error.js';

/**
 * embedContent (`{content, outputDimensionality}`) and batchEmbedContents (`{requests: [EmbedContentRequest]}`),
 * https://ai.google.dev/api/embeddings. Only text parts can be embedded. `taskType` and `title` have no canonical
 * form and are not carried over.
 */
const embedContentSchema = z
  .object({
    model: z.string().optional(),
    content: z.object({ parts: z.array(z.object({ text: z.string() }).loose()).min(1) }).loose(),
    outputDimensionality: z.number().int().positive().optional(),
  })
  .loose();
const batchEmbedContentsSchema = z.object({ requests: z.array(embedContentSchema).min(1) }).loose();

type EmbedContentRequest = z.infer<typeof embedContentSchema>;

export function geminiEmbeddingRequestToCanonical(body: unknown, ctx: RequestContext = {}): CanonicalEmbeddingRequest {
  const requests = embedRequestsOf(body);
  const dimensions = requests[0]!.outputDimensionality;
  const mixed = requests.findIndex((request) => request.outputDimensionality !== dimensions);
  if (mixed >= 0) {
    throw badRequest('All requests of a batch must ask for the same outputDimensionality to be translated.', `requests[${mixed}].outputDimensionality`, 'not_translatable');
  }
  return {
    model: ctx.model ?? requests[0]!.model?.replace(/^models\//, '') ?? '',
    input: requests.map((request) => request.content.parts.map((part) => part.text).join('')),
    ...(dimensions ? { dimensions } : {}),
  };
}

function embedRequestsOf(body: unknown): EmbedContentRequest[] {
  const isBatch = body !== null && typeof body === 'object' && 'requests' in body;
  const parsed = isBatch ? batchEmbedContentsSchema.safeParse(body) : embedContentSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToBadRequest(parsed.error);
  return isBatch ? (parsed.data as z.infer<typeof batchEmbedContentsSchema>).requests : [parsed.data as EmbedContentRequest];
}

/** Always batchEmbedContents, which names the model in each request (`models/<model>`). */
export function canonicalToGeminiEmbeddingRequest(req: CanonicalEmbeddingRequest, model: string): TranslatedRequest {
  const requests = req.input.map((text) => ({
    model: `models/${model}`,
    content: { parts: [{ text }] },
    ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}),
  }));
  return { body: { requests }, warnings: req.user !== undefined ? ['user'] : [] };
}

/** EmbedContentResponse `{embedding}` or BatchEmbedContentsResponse `{embeddings}`, partial on purpose. */
const valuesSchema = z.object({ values: z.array(z.number()) }).loose();
const embeddingResponseSchema = z
  .object({
    embedding: valuesSchema.optional(),
    embeddings: z.array(valuesSchema).optional(),
    error: z.object({ code: z.number().optional(), message: z.string().optional(), status: z.string().optional() }).loose().optional(),
  })
  .loose();

/**
 * An embeddings response as canonical vectors. Gemini reports no usage: `inputTokens` is 0 here, and the caller,
 * which has the input, fills in `estimateEmbeddingTokens` (./embedding-token-estimate.ts).
 */
export function geminiEmbeddingResponseToCanonical(body: unknown): CanonicalEmbeddingResponse {
  const parsed = embeddingResponseSchema.safeParse(body);
  if (parsed.success && parsed.data.error) throw geminiUpstreamError(parsed.data.error);
  const embeddings = parsed.success ? parsed.data.embeddings ?? (parsed.data.embedding ? [parsed.data.embedding] : undefined) : undefined;
  if (!embeddings) throw new UpstreamError('gemini', 'Gemini sent an embeddings response without embeddings', { retryable: false, upstreamStatus: 502 });
  return { model: '', embeddings: embeddings.map((embedding) => embedding.values), usage: { inputTokens: 0 } };
}

/** batchEmbedContents' response shape; the embedContent route unwraps its single embedding (http/routes/chat.ts). */
export function canonicalToGeminiEmbeddingResponse(res: CanonicalEmbeddingResponse): Record<string, unknown> {
  return { embeddings: res.embeddings.map((values) => ({ values })) };
}

/**
 * Gemini's embedContent and batchEmbedContents report no token usage (https://ai.google.dev/api/embeddings), so
 * meshgate estimates it for quotas and records: about four characters (UTF-16 code units) a token, rounded up per
 * input — the rule of thumb Google gives for Gemini models (https://ai.google.dev/gemini-api/docs/tokens).
 */
export function estimateEmbeddingTokens(input: readonly string[]): number {
  return input.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);
}
