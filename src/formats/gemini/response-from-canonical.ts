import type { CanonicalResponse } from '../canonical.js';
import { finishReasonToGemini } from './finish-reason.js';
import { responsePartToGemini } from './response-parts.js';
import { usageToGemini } from './usage.js';

/** A canonical response as the GenerateContentResponse a Gemini client expects: one candidate, role `model`. */
export function canonicalToGeminiResponse(res: CanonicalResponse): Record<string, unknown> {
  return {
    candidates: [{ content: { role: 'model', parts: res.content.map(responsePartToGemini) }, finishReason: finishReasonToGemini(res.stopReason), index: 0 }],
    usageMetadata: usageToGemini(res.usage),
    modelVersion: res.model,
    responseId: res.id,
  };
}
