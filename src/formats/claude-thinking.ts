import type { CanonicalRequest } from './canonical.js';
import { reasoningBudget } from './reasoning.js';

/** Claude's smallest thinking budget (https://docs.claude.com/en/docs/build-with-claude/extended-thinking). */
export const MIN_THINKING_BUDGET = 1_024;
/** Extended thinking accepts top_p only from 0.95 (and no temperature or top_k changes). */
export const MIN_THINKING_TOP_P = 0.95;

/** What a request's reasoning comes to for a Claude model. */
export type ThinkingPlan =
  | { kind: 'unasked' }
  | { kind: 'disabled' }
  /** `thinking: { type: "enabled", budget_tokens: budget }`, with the output limit to send (thinking counts inside it). */
  | { kind: 'enabled'; budget: number; maxTokens: number }
  /** Asked for but not possible for this request: sent without thinking, the reason named in the warnings. */
  | { kind: 'refused'; warning: string };

/**
 * Claude's extended thinking, as Anthropic's API and Claude on Bedrock (Converse `additionalModelRequestFields`) both
 * take it: a budget from the reasoning table, at least Claude's minimum and below the output limit. A client limit
 * caps the budget; without one the limit sent is `defaultMaxTokens` plus the budget. Claude refuses to think with a
 * forced tool choice, and when the tool call being answered came without its signed thinking block (a history from
 * another format has none): the request then goes without thinking, named. `who` names the provider in warnings.
 */
export function planThinking(
  req: Pick<CanonicalRequest, 'reasoning' | 'maxTokens'>,
  blockers: { forcedTool: boolean; unsignedToolCall: boolean },
  defaultMaxTokens: number,
  who: string,
): ThinkingPlan {
  const wanted = reasoningBudget(req.reasoning);
  if (wanted === undefined) return { kind: 'unasked' };
  if (wanted === 0) return { kind: 'disabled' };
  if (blockers.forcedTool) return { kind: 'refused', warning: `reasoning (${who} cannot think with a forced tool choice)` };
  if (blockers.unsignedToolCall) return { kind: 'refused', warning: 'reasoning (the tool call being answered came without its thinking block)' };
  const budget = Math.max(MIN_THINKING_BUDGET, wanted);
  if (req.maxTokens === undefined) return { kind: 'enabled', budget, maxTokens: defaultMaxTokens + budget };
  const capped = Math.min(budget, req.maxTokens - 1);
  if (capped < MIN_THINKING_BUDGET) return { kind: 'refused', warning: `reasoning (max_tokens is below ${who}'s ${MIN_THINKING_BUDGET}-token thinking minimum)` };
  return { kind: 'enabled', budget: capped, maxTokens: req.maxTokens };
}
