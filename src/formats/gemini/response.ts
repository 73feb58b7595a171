import { UpstreamError } from '../../errors/index.js';
import { emptyUsage, type CanonicalResponse, type Usage } from '../canonical.js';
import { finishReasonToGemini, stopReasonFromGemini } from './response/finish-reason.js';
import { responsePartToCanonical, responsePartToGemini, type ResponseContentPart } from './response/parts.js';
import { geminiResponseSchema, parseGeminiResponse } from './response/schema.js';
import { usageFromGemini, usageToGemini } from './response/usage.js';

/**
 * A GenerateContentResponse (https://ai.google.dev/api/generate-content#generatecontentresponse) as a canonical
 * response, from its first candidate. A prompt Gemini blocked comes back with no candidates and
 * `promptFeedback.blockReason`: that is an empty response stopped by the content filter.
 */
export function geminiResponseToCanonical(body: unknown): CanonicalResponse {
  const response = parseGeminiResponse(body);
  const candidate = response.candidates?.[0];
  if (!candidate && !response.promptFeedback?.blockReason) {
    throw new UpstreamError('gemini', 'Gemini sent a response without candidates or a block reason', { retryable: false, upstreamStatus: 502 });
  }
  const content: ResponseContentPart[] = [];
  for (const part of candidate?.content?.parts ?? []) {
    const toolIndex = content.filter((p) => p.type === 'tool_call').length;
    const converted = responsePartToCanonical(part, response.responseId, toolIndex);
    if (converted) content.push(converted);
  }
  const hasToolCalls = content.some((part) => part.type === 'tool_call');
  return {
    id: response.responseId ?? 'gemini-response',
    model: response.modelVersion ?? '',
    content,
    stopReason: candidate ? stopReasonFromGemini(candidate.finishReason, hasToolCalls) : 'content_filter',
    usage: response.usageMetadata ? usageFromGemini(response.usageMetadata) : emptyUsage(),
  };
}

/** A canonical response as the GenerateContentResponse a Gemini client expects: one candidate, role `model`. */
export function canonicalToGeminiResponse(res: CanonicalResponse): Record<string, unknown> {
  return {
    candidates: [{ content: { role: 'model', parts: res.content.filter((p) => p.type !== 'reasoning' || p.text !== '').map(responsePartToGemini) }, finishReason: finishReasonToGemini(res.stopReason), index: 0 }],
    usageMetadata: usageToGemini(res.usage),
    modelVersion: res.model,
    responseId: res.id,
  };
}

/** Usage of a non-streaming response passed through untouched. */
export function usageFromGeminiResponse(body: unknown): Usage | undefined {
  const parsed = geminiResponseSchema.safeParse(body);
  return parsed.success && parsed.data.usageMetadata ? usageFromGemini(parsed.data.usageMetadata) : undefined;
}
