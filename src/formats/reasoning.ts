import type { ReasoningEffort, ReasoningRequest } from './canonical.js';

/**
 * The one table between reasoning efforts (OpenAI `reasoning_effort`, Responses `reasoning.effort`, Gemini
 * `thinkingLevel`, Anthropic `output_config.effort`) and thinking budgets in tokens (Anthropic
 * `thinking.budget_tokens`, Gemini `thinkingConfig.thinkingBudget`). The README shows it. Budgets follow the
 * providers' documented ranges: Anthropic's smallest budget is 1,024 tokens; 24,576 is Gemini 2.5 Flash's largest.
 */
export const REASONING_BUDGETS: Readonly<Record<ReasoningEffort, number>> = {
  none: 0,
  minimal: 1_024,
  low: 2_048,
  medium: 8_192,
  high: 24_576,
};

const EFFORTS = Object.keys(REASONING_BUDGETS) as ReasoningEffort[];

/** A reasoning request that asks for nothing in particular ("think", no level): the middle of the table. */
const DEFAULT_EFFORT: ReasoningEffort = 'medium';

/** The effort for a budget: the smallest whose budget covers it (0 → none; above the table → high). */
export function effortForBudget(budgetTokens: number): ReasoningEffort {
  if (budgetTokens <= 0) return 'none';
  return EFFORTS.find((effort) => effort !== 'none' && REASONING_BUDGETS[effort] >= budgetTokens) ?? 'high';
}

/** The effort a reasoning request comes to, or undefined when it asks for nothing. */
export function reasoningEffort(reasoning: ReasoningRequest | undefined): ReasoningEffort | undefined {
  if (!reasoning) return undefined;
  if (reasoning.enabled === false) return 'none';
  if (reasoning.effort) return reasoning.effort;
  if (reasoning.budgetTokens !== undefined) return effortForBudget(reasoning.budgetTokens);
  return reasoning.enabled ? DEFAULT_EFFORT : undefined;
}

/** The budget in tokens a reasoning request comes to (0: no reasoning), or undefined when it asks for nothing. */
export function reasoningBudget(reasoning: ReasoningRequest | undefined): number | undefined {
  if (!reasoning) return undefined;
  if (reasoning.enabled === false) return 0;
  if (reasoning.budgetTokens !== undefined) return reasoning.budgetTokens;
  const effort = reasoningEffort(reasoning);
  return effort === undefined ? undefined : REASONING_BUDGETS[effort];
}

/**
 * Whether reasoning text a provider returns goes back to the client: yes, unless the client asked for reasoning and
 * not for its text (a Gemini client without `includeThoughts`). A client that asked nothing gets what comes.
 */
export function wantsReasoningText(reasoning: ReasoningRequest | undefined): boolean {
  return reasoning === undefined || reasoning.includeText === true;
}

/** A client's effort word as a canonical effort (`xhigh`, newer than the table, is its top). */
export function parseEffort(value: unknown): ReasoningEffort | undefined {
  if (value === 'xhigh' || value === 'max') return 'high';
  return typeof value === 'string' && (EFFORTS as string[]).includes(value) ? (value as ReasoningEffort) : undefined;
}
