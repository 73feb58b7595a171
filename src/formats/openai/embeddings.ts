import { z } from 'zod';
import { UpstreamError, badRequest } from '../../errors/index.js';
import type { CanonicalEmbeddingRequest, CanonicalEmbeddingResponse } from '../canonical.js';
import type { TranslatedRequest } from '../codec.js';
import { zodIssueToBadRequest } from '../validation.js';

/** https://platform.openai.com/docs/api-reference/embeddings/create */
export const embeddingRequestSchema = z
  .object({
    model: z.string().min(1),
    input: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))]),
    dimensions: z.number().int().positive().optional(),
    encoding_format: z.enum(['float', 'base64']).optional(),
    user: z.string().optional(),
  })
  .loose();

export function openaiEmbeddingRequestToCanonical(body: unknown): CanonicalEmbeddingRequest {
  const parsed = embeddingRequestSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToBadRequest(parsed.error);
  const { model, input, dimensions, encoding_format, user } = parsed.data;
  if (Array.isArray(input) && input.some((item) => typeof item !== 'string')) {
    throw badRequest('Token-array input cannot be translated to another provider; send text.', 'input');
  }
  return { model, input: typeof input === 'string' ? [input] : (input as string[]), ...(dimensions ? { dimensions } : {}), ...(encoding_format ? { encodingFormat: encoding_format } : {}), ...(user ? { user } : {}) };
}

export function canonicalToOpenAIEmbeddingRequest(req: CanonicalEmbeddingRequest, model: string): TranslatedRequest {
  return { body: { model, input: req.input, ...(req.dimensions ? { dimensions: req.dimensions } : {}), ...(req.user ? { user: req.user } : {}) }, warnings: [] };
}

/** float32 little-endian bytes, base64: OpenAI's `encoding_format: "base64"`. */
export function floatsToBase64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

function base64ToFloats(text: string): number[] {
  const bytes = Buffer.from(text, 'base64');
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}

export function openaiEmbeddingResponseToCanonical(body: unknown): CanonicalEmbeddingResponse {
  const response = body as { model?: string; data?: Array<{ index?: number; embedding: number[] | string }>; usage?: { prompt_tokens?: number } };
  if (!Array.isArray(response?.data)) throw new UpstreamError('openai', 'Upstream embeddings response has no data', { retryable: false, upstreamStatus: 502 });
  const sorted = [...response.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  return {
    model: response.model ?? '',
    embeddings: sorted.map((d) => (typeof d.embedding === 'string' ? base64ToFloats(d.embedding) : d.embedding)),
    usage: { inputTokens: response.usage?.prompt_tokens ?? 0 },
  };
}

export function canonicalToOpenAIEmbeddingResponse(res: CanonicalEmbeddingResponse, encoding: 'float' | 'base64' = 'float'): Record<string, unknown> {
  return {
    object: 'list',
    data: res.embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding: encoding === 'base64' ? floatsToBase64(embedding) : embedding })),
    model: res.model,
    usage: { prompt_tokens: res.usage.inputTokens, total_tokens: res.usage.inputTokens },
  };
}
