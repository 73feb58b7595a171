import { z } from 'zod';
import { UpstreamError } from '../../../errors/index.js';
import { geminiUpstreamError } from './upstream-error.js';

/**
 * GenerateContentResponse (https://ai.google.dev/api/generate-content#generatecontentresponse), deliberately
 * partial: only what meshgate reads is checked, and every object is `.loose()`, so a field Gemini adds tomorrow never
 * breaks parsing. Each streamGenerateContent SSE event carries one of these too.
 */

export const geminiUsageSchema = z
  .object({
    promptTokenCount: z.number().optional(),
    cachedContentTokenCount: z.number().optional(),
    candidatesTokenCount: z.number().optional(),
    toolUsePromptTokenCount: z.number().optional(),
    thoughtsTokenCount: z.number().optional(),
    totalTokenCount: z.number().optional(),
  })
  .loose();

const responsePartSchema = z
  .object({
    text: z.string().optional(),
    thought: z.boolean().optional(),
    functionCall: z.object({ id: z.string().optional(), name: z.string(), args: z.record(z.string(), z.unknown()).optional() }).loose().optional(),
  })
  .loose();

const candidateSchema = z
  .object({
    content: z.object({ role: z.string().optional(), parts: z.array(responsePartSchema).optional() }).loose().optional(),
    finishReason: z.string().optional(),
  })
  .loose();

const errorSchema = z.object({ code: z.number().optional(), message: z.string().optional(), status: z.string().optional() }).loose();

export const geminiResponseSchema = z
  .object({
    candidates: z.array(candidateSchema).optional(),
    promptFeedback: z.object({ blockReason: z.string().optional() }).loose().optional(),
    usageMetadata: geminiUsageSchema.optional(),
    modelVersion: z.string().optional(),
    responseId: z.string().optional(),
    // Not part of the response: the error body (google.rpc.Status) that Gemini sends instead, also inside a stream.
    error: errorSchema.optional(),
  })
  .loose();

export type GeminiResponse = z.infer<typeof geminiResponseSchema>;
export type GeminiResponsePart = z.infer<typeof responsePartSchema>;
export type GeminiUsage = z.infer<typeof geminiUsageSchema>;

/** Parses an upstream response or stream chunk; throws UpstreamError on an error payload or a body of another shape. */
export function parseGeminiResponse(body: unknown): GeminiResponse {
  const parsed = geminiResponseSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UpstreamError('gemini', `Gemini sent a malformed response (${issue.path.join('.') || 'body'}: ${issue.message})`, {
      retryable: false, upstreamStatus: 502,
    });
  }
  if (parsed.data.error) throw geminiUpstreamError(parsed.data.error);
  return parsed.data;
}
