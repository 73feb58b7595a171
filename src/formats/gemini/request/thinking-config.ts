import type { ReasoningRequest } from '../../canonical.js';
import { parseEffort, reasoningBudget } from '../../reasoning.js';
import type { GeminiGenerationConfig } from './schema.js';

/**
 * Reasoning ⇄ `generationConfig.thinkingConfig` (https://ai.google.dev/gemini-api/docs/thinking): `thinkingBudget`
 * in tokens (0 turns thinking off, -1 lets the model decide), `thinkingLevel` on Gemini 3, `includeThoughts` for the
 * thought summaries. Budgets and levels meet in the reasoning table (formats/reasoning.ts).
 */
export const THINKING_CONFIG_FIELD = 'thinkingConfig';

export function reasoningFromGemini(config: GeminiGenerationConfig): ReasoningRequest | undefined {
  const thinking = config.thinkingConfig;
  if (!thinking) return undefined;
  const includeText = thinking.includeThoughts === true ? { includeText: true } : {};
  if (thinking.thinkingBudget === 0) return { enabled: false };
  const effort = parseEffort(thinking.thinkingLevel?.toLowerCase());
  if (effort) return { effort, ...includeText };
  if (thinking.thinkingBudget !== undefined && thinking.thinkingBudget > 0) return { budgetTokens: thinking.thinkingBudget, ...includeText };
  return { enabled: true, ...includeText };
}

export function reasoningToGemini(reasoning: ReasoningRequest | undefined): Record<string, unknown> {
  const budget = reasoningBudget(reasoning);
  if (budget === undefined) return {};
  return { thinkingConfig: { thinkingBudget: budget, ...(budget > 0 && reasoning?.includeText ? { includeThoughts: true } : {}) } };
}
