import type { ReceiptPayload } from './receipt.js';

/**
 * The most a requester acknowledges for one forwarded request (protocol/receipts.md, "Usage bound"). Usage in a
 * receipt, and in the response body beside it, is what the serving peer says; the requester has its own
 * measurement of what crossed the stream: the request it sent (input) and the text, reasoning and tool arguments it
 * relayed (output). It acknowledges a claim only up to `FACTOR × measured + SLACK` per direction, disputes a claim
 * above with `usage_exceeds_measured`, and charges its own client's quotas at most the bounded figure.
 *
 * The measurement is an estimate (about 4 ASCII characters per token, one per other code point): the factor covers
 * tokenizers that cut code, JSON and numbers finer than that, the slack the tokens a provider adds that no text
 * shows (a chat template's per-message markers, a tool-use system prompt of a few hundred tokens).
 */
export const USAGE_BOUND_FACTOR = 1.5;
export const USAGE_BOUND_SLACK = { input: 512, output: 64 } as const;

export interface MeasuredTokens {
  input: number;
  output: number;
}

/**
 * `hiddenOutput`: the allowance for output the subject cannot see (`hiddenOutputAllowance`), added to the output
 * bound; `unreadInput`: the allowance for input it cannot read (documents sent by URL), added to the input bound.
 */
export function usageBound(measured: MeasuredTokens, hiddenOutput = 0, unreadInput = 0): MeasuredTokens {
  return {
    input: Math.ceil(USAGE_BOUND_FACTOR * measured.input) + USAGE_BOUND_SLACK.input + unreadInput,
    output: Math.ceil(USAGE_BOUND_FACTOR * measured.output) + USAGE_BOUND_SLACK.output + hiddenOutput,
  };
}

/**
 * Reasoning tokens a provider bills but does not return in full (OpenAI's reasoning models hide it, Anthropic's
 * recent models return a summary of it) cannot be measured on the stream. They are credited up to what the answer
 * reports as reasoning or, when it reports none, up to the reasoning budget the request asked for — and never beyond
 * the output limit of the request the subject sent (`max_tokens` / `max_completion_tokens`: what its client agreed
 * to pay for at most). A request without an output limit gets no allowance.
 */
export function hiddenOutputAllowance(reportedReasoning: number | undefined, requestOutputLimit: number | undefined, requestedReasoningBudget?: number): number {
  if (!requestOutputLimit) return 0;
  const hidden = reportedReasoning || requestedReasoningBudget || 0;
  return Math.min(hidden, requestOutputLimit);
}

/** The part of a claim within the bound: what the requester's own accounting (its client's quotas) is charged. */
export function boundedUsage(claimed: ReceiptPayload['usage'], bound: MeasuredTokens): ReceiptPayload['usage'] {
  const input = Math.min(claimed.input, bound.input);
  return { input, output: Math.min(claimed.output, bound.output), cached: Math.min(claimed.cached, input) };
}

/** Whether a claim stays within the bound (the receipt can then be acknowledged as far as usage goes). */
export function withinBound(claimed: ReceiptPayload['usage'], bound: MeasuredTokens): boolean {
  return claimed.input <= bound.input && claimed.output <= bound.output;
}
