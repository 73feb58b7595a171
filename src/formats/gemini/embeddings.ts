import { z } from 'zod';
import { UpstreamError } from '../../errors/index.js';
import type { CanonicalEmbeddingRequest, CanonicalEmbeddingResponse } from '../canonical.js';
import type { RequestContext, TranslatedRequest } from '../codec.js';
import { zodIssueToBadRequest } from '../validation.js';

/** embedContent / batchEmbedContents: https://ai.google.dev/api/embeddings */
const contentSchema = z.object({ parts: z.array(z.object({ text: z.string() }).loose()).min(1) }).loose();
const embedSchema = z.object({ content: contentSchema, outputDimensionality: z.number().int().positive().optional() }).loose();
const batchSchema = z.object({ requests: z.array(embedSchema).min(1) }).loose();

/** Gemini reports no token usage for embeddings; this estimate (about 4 characters a token) fills the records. */
export const estimateEmbeddingTokens = (input: string[]) => input.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);

export function geminiEmbeddingRequestToCanonical(body: unknown, ctx: RequestContext = {}): CanonicalEmbeddingRequest {
  const batch = (body as { requests?: unknown })?.requests !== undefined;
  const parsed = batch ? batchSchema.safeParse(body) : embedSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToBadRequest(parsed.error);
  const requests = batch ? (parsed.data as z.infer<typeof batchSchema>).requests : [parsed.data as z.infer<typeof embedSchema>];
  const dimensions = requests[0]!.outputDimensionality;
  return { model: ctx.model ?? '', input: requests.map((r) => r.content.parts.map((p) => p.text).join('')), ...(dimensions ? { dimensions } : {}) };
}

export function canonicalToGeminiEmbeddingRequest(req: CanonicalEmbeddingRequest, model: string): TranslatedRequest {
  return {
    body: { requests: req.input.map((text) => ({ model: `models/${model}`, content: { parts: [{ text }] }, ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}) })) },
    warnings: [],
  };
}

export function geminiEmbeddingResponseToCanonical(body: unknown, input: string[] = []): CanonicalEmbeddingResponse {
  const response = body as { embedding?: { values: number[] }; embeddings?: Array<{ values: number[] }> };
  const embeddings = response?.embeddings ?? (response?.embedding ? [response.embedding] : undefined);
  if (!embeddings) throw new UpstreamError('gemini', 'Upstream embeddings response has no embeddings', { retryable: false, upstreamStatus: 502 });
  return { model: '', embeddings: embeddings.map((e) => e.values), usage: { inputTokens: estimateEmbeddingTokens(input) } };
}

export function canonicalToGeminiEmbeddingResponse(res: CanonicalEmbeddingResponse): Record<string, unknown> {
  return { embeddings: res.embeddings.map((values) => ({ values })) };
}
