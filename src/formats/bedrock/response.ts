import { z } from 'zod';
import { UpstreamError } from '../../errors/index.js';
import type { CanonicalResponse, ReasoningPart, StopReason, TextPart, ToolCallPart, Usage } from '../canonical.js';

/**
 * Bedrock Converse response → canonical (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax).
 * Partial schemas: fields Bedrock adds later pass through unread.
 */

export const bedrockUsageSchema = z
  .object({
    inputTokens: z.number().optional(),
    outputTokens: z.number().optional(),
    cacheReadInputTokens: z.number().optional(),
    cacheWriteInputTokens: z.number().optional(),
  })
  .loose();
export type BedrockUsage = z.infer<typeof bedrockUsageSchema>;

const blockSchema = z
  .object({
    text: z.string().optional(),
    toolUse: z.object({ toolUseId: z.string(), name: z.string(), input: z.unknown() }).loose().optional(),
    // Claude's thinking: its text with the signature that lets it be replayed, or (redacted by safety systems) an
    // opaque blob, which has no canonical form and is passed on as empty reasoning, as Anthropic's redacted_thinking is.
    reasoningContent: z.object({
      reasoningText: z.object({ text: z.string().optional(), signature: z.string().optional() }).loose().optional(),
      redactedContent: z.string().optional(),
    }).loose().optional(),
  })
  .loose();

const responseSchema = z
  .object({
    output: z.object({ message: z.object({ role: z.string().optional(), content: z.array(blockSchema) }).loose() }).loose(),
    stopReason: z.string().optional(),
    usage: bedrockUsageSchema.optional(),
  })
  .loose();

export function stopReasonFromBedrock(reason: string | undefined): StopReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded': return 'length';
    case 'tool_use': return 'tool_calls';
    case 'guardrail_intervened':
    case 'content_filtered': return 'content_filter';
    default: return 'stop'; // end_turn, stop_sequence
  }
}

/**
 * Bedrock counts cache reads and writes outside `inputTokens` (as Anthropic does; `totalTokens` is the sum of all
 * four); canonical `inputTokens` includes them.
 */
export function usageFromBedrock(usage: BedrockUsage | undefined): Usage {
  const read = usage?.cacheReadInputTokens ?? 0;
  const write = usage?.cacheWriteInputTokens ?? 0;
  return {
    inputTokens: (usage?.inputTokens ?? 0) + read + write,
    outputTokens: usage?.outputTokens ?? 0,
    ...(read ? { cachedInputTokens: read } : {}),
    ...(write ? { cacheWriteInputTokens: write } : {}),
  };
}

export function bedrockResponseToCanonical(body: unknown): CanonicalResponse {
  const parsed = responseSchema.safeParse(body);
  if (!parsed.success) throw new UpstreamError('bedrock', 'Bedrock sent a Converse response without output.message.content', { retryable: false, upstreamStatus: 502 });
  const response = parsed.data;
  const content: Array<TextPart | ToolCallPart | ReasoningPart> = [];
  for (const block of response.output.message.content) {
    if (block.text !== undefined) content.push({ type: 'text', text: block.text });
    else if (block.toolUse) content.push({ type: 'tool_call', id: block.toolUse.toolUseId, name: block.toolUse.name, arguments: JSON.stringify(block.toolUse.input ?? {}) });
    else if (block.reasoningContent?.reasoningText) {
      const { text, signature } = block.reasoningContent.reasoningText;
      content.push({ type: 'reasoning', text: text ?? '', ...(signature ? { signature } : {}) });
    } else if (block.reasoningContent?.redactedContent !== undefined) content.push({ type: 'reasoning', text: '' });
  }
  // Converse responses carry no id (the request id is the x-amzn-requestid header) and no model name.
  return { id: 'bedrock-response', model: '', content, stopReason: stopReasonFromBedrock(response.stopReason), usage: usageFromBedrock(response.usage) };
}
