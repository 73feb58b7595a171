import type { StopReason } from '../../canonical.js';

/**
 * Candidate.finishReason (https://ai.google.dev/api/generate-content#FinishReason) → canonical stop reason.
 * Reasons not listed (FINISH_REASON_UNSPECIFIED, ones added later) count as a normal stop.
 */
const STOP_REASON_OF_FINISH_REASON: Record<string, StopReason> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
  IMAGE_RECITATION: 'content_filter',
  LANGUAGE: 'error',
  OTHER: 'error',
  IMAGE_OTHER: 'error',
  NO_IMAGE: 'error',
  MALFORMED_FUNCTION_CALL: 'error',
  UNEXPECTED_TOOL_CALL: 'error',
  TOO_MANY_TOOL_CALLS: 'error',
  MISSING_THOUGHT_SIGNATURE: 'error',
  MALFORMED_RESPONSE: 'error',
};

/**
 * Gemini reports STOP when the model called functions (function calls arrive whole, so they are complete); clients
 * of other formats need `tool_calls` to know they must run them. A filtered or failed candidate keeps its reason.
 */
export function stopReasonFromGemini(finishReason: string | undefined, hasToolCalls: boolean): StopReason {
  const reason = STOP_REASON_OF_FINISH_REASON[finishReason ?? ''] ?? 'stop';
  return hasToolCalls && (reason === 'stop' || reason === 'length') ? 'tool_calls' : reason;
}

/** Canonical stop reason → finishReason; Gemini has no reason of its own for function calls (it says STOP). */
const FINISH_REASON_OF_STOP_REASON: Record<StopReason, string> = {
  stop: 'STOP',
  length: 'MAX_TOKENS',
  tool_calls: 'STOP',
  content_filter: 'SAFETY',
  error: 'OTHER',
};

export const finishReasonToGemini = (reason: StopReason): string => FINISH_REASON_OF_STOP_REASON[reason];
