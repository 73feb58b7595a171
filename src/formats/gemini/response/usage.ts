import type { Usage } from '../../canonical.js';
import type { GeminiUsage } from './schema.js';

/**
 * usageMetadata (https://ai.google.dev/api/generate-content#UsageMetadata) ⇄ canonical usage.
 * - `promptTokenCount` already includes `cachedContentTokenCount` (the canonical `inputTokens` semantics);
 *   `toolUsePromptTokenCount` (results of Google's own tools fed back to the model) is input billed on top of it.
 * - `thoughtsTokenCount` is billed as output but reported outside `candidatesTokenCount`, so output is their sum and
 *   the thoughts are also the reasoning tokens.
 */
export function usageFromGemini(usage: GeminiUsage): Usage {
  const thoughts = usage.thoughtsTokenCount ?? 0;
  return {
    inputTokens: (usage.promptTokenCount ?? 0) + (usage.toolUsePromptTokenCount ?? 0),
    outputTokens: (usage.candidatesTokenCount ?? 0) + thoughts,
    ...(usage.cachedContentTokenCount ? { cachedInputTokens: usage.cachedContentTokenCount } : {}),
    ...(thoughts ? { reasoningTokens: thoughts } : {}),
  };
}

/**
 * Only what a usageMetadata reports: a stream's early chunks carry the prompt count but no candidates count yet, and
 * an output of 0 read from them would hide the output of a stream that breaks off (the caller estimates it instead).
 */
export function reportedUsageFromGemini(usage: GeminiUsage): Partial<Usage> {
  const { outputTokens, ...rest } = usageFromGemini(usage);
  const reportsOutput = usage.candidatesTokenCount !== undefined || usage.thoughtsTokenCount !== undefined;
  return reportsOutput ? { ...rest, outputTokens } : rest;
}

export function usageToGemini(usage: Usage): GeminiUsage {
  const thoughts = usage.reasoningTokens ?? 0;
  return {
    promptTokenCount: usage.inputTokens,
    candidatesTokenCount: Math.max(0, usage.outputTokens - thoughts),
    ...(usage.cachedInputTokens ? { cachedContentTokenCount: usage.cachedInputTokens } : {}),
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
    totalTokenCount: usage.inputTokens + usage.outputTokens,
  };
}
