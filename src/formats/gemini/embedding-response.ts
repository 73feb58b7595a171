import { z } from 'zod';
import { UpstreamError } from '../../errors/index.js';
import type { CanonicalEmbeddingResponse } from '../canonical.js';
import { geminiUpstreamError } from './upstream-error.js';

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
