import { z } from 'zod';
import { badRequest } from '../../errors/index.js';
import type { CanonicalEmbeddingRequest } from '../canonical.js';
import type { RequestContext, TranslatedRequest } from '../codec.js';
import { zodIssueToBadRequest } from '../validation.js';

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
