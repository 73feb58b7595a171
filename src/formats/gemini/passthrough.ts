import type { Usage } from '../canonical.js';
import type { PassthroughRequest, PassthroughTap } from '../codec.js';
import { parseSSEData, type SSEMessage } from '../sse.js';
import { geminiResponseSchema } from './response-schema.js';
import { reportedUsageFromGemini, usageFromGemini } from './usage.js';

/**
 * Same format in and out. The model is in the URL and Gemini reports usage in every stream on its own, so the body
 * goes upstream exactly as the client sent it.
 */
export function geminiPassthroughRequest(body: Record<string, unknown>): PassthroughRequest {
  return { body, clientWantsStreamUsage: true };
}

/**
 * Reads one message of a Gemini stream passed through untouched: usage (every chunk carries usageMetadata; the
 * caller keeps the last), whether it carries content (text or a function call), and an in-stream error payload.
 * Never throws: a chunk it cannot read is still forwarded.
 */
export function tapGeminiStreamMessage(message: SSEMessage): PassthroughTap {
  const parsed = geminiResponseSchema.safeParse(parseSSEData(message));
  if (!parsed.success) return { forward: true };
  const chunk = parsed.data;
  if (chunk.error) return { forward: true, error: `${chunk.error.status ?? chunk.error.code ?? 'error'}: ${chunk.error.message ?? ''}` };
  const parts = chunk.candidates?.[0]?.content?.parts ?? [];
  const content = parts.some((part) => Boolean(part.text) || part.functionCall !== undefined);
  return { forward: true, ...(chunk.usageMetadata ? { usage: reportedUsageFromGemini(chunk.usageMetadata) } : {}), ...(content ? { content } : {}) };
}

/** Usage of a non-streaming response passed through untouched. */
export function usageFromGeminiResponse(body: unknown): Usage | undefined {
  const parsed = geminiResponseSchema.safeParse(body);
  return parsed.success && parsed.data.usageMetadata ? usageFromGemini(parsed.data.usageMetadata) : undefined;
}
