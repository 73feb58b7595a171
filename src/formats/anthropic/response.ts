import { UpstreamError } from '../../errors/index.js';
import type { CanonicalResponse, ReasoningPart, StopReason, TextPart, ToolCallPart, Usage } from '../canonical.js';
import { anthropicToolId } from './request.js';
import { answerText, isAnswerTool } from './structured-output.js';

export function stopReasonFromAnthropic(reason: string | null | undefined): StopReason {
  switch (reason) {
    case 'max_tokens': return 'length';
    // Stopped because the context window is full: a truncated answer, like max_tokens.
    case 'model_context_window_exceeded': return 'length';
    case 'tool_use': return 'tool_calls';
    case 'refusal': return 'content_filter';
    default: return 'stop'; // end_turn, stop_sequence, pause_turn
  }
}

export function stopReasonToAnthropic(reason: StopReason, stopSequence?: string): string {
  switch (reason) {
    case 'length': return 'max_tokens';
    case 'tool_calls': return 'tool_use';
    case 'content_filter': return 'refusal';
    default: return stopSequence ? 'stop_sequence' : 'end_turn';
  }
}

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** Anthropic counts cache reads and writes outside input_tokens; canonical inputTokens includes them. */
export function usageFromAnthropic(usage: AnthropicUsage | undefined): Partial<Usage> | undefined {
  if (!usage) return undefined;
  const out: Partial<Usage> = {};
  const read = usage.cache_read_input_tokens ?? 0;
  const write = usage.cache_creation_input_tokens ?? 0;
  if (typeof usage.input_tokens === 'number') out.inputTokens = usage.input_tokens + read + write;
  if (typeof usage.output_tokens === 'number') out.outputTokens = usage.output_tokens;
  if (read) out.cachedInputTokens = read;
  if (write) out.cacheWriteInputTokens = write;
  return out;
}

export function usageToAnthropic(usage: Partial<Usage>): Record<string, number> {
  const read = usage.cachedInputTokens ?? 0;
  const write = usage.cacheWriteInputTokens ?? 0;
  return {
    input_tokens: Math.max(0, (usage.inputTokens ?? 0) - read - write),
    output_tokens: usage.outputTokens ?? 0,
    cache_read_input_tokens: read,
    cache_creation_input_tokens: write,
  };
}

interface AnthropicMessage {
  id?: string;
  model?: string;
  content?: Array<{ type: string; text?: string; id?: string; name?: string; input?: unknown; thinking?: string; signature?: string }>;
  stop_reason?: string | null;
  stop_sequence?: string | null;
  usage?: AnthropicUsage;
}

export function anthropicResponseToCanonical(body: unknown): CanonicalResponse {
  const message = body as AnthropicMessage;
  if (!Array.isArray(message?.content)) throw new UpstreamError('anthropic', 'Upstream response has no content', { retryable: false, upstreamStatus: 502 });
  const content: Array<TextPart | ToolCallPart | ReasoningPart> = [];
  for (const block of message.content) {
    if (block.type === 'text') content.push({ type: 'text', text: block.text ?? '' });
    // The answer tool of a structured-output request: its input is the answer (see structured-output.ts).
    else if (block.type === 'tool_use' && isAnswerTool(block.name)) content.push({ type: 'text', text: answerText(block.name!, block.input) });
    else if (block.type === 'tool_use') content.push({ type: 'tool_call', id: block.id ?? '', name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) });
    else if (block.type === 'thinking') content.push({ type: 'reasoning', text: block.thinking ?? '', ...(block.signature ? { signature: block.signature } : {}) });
  }
  const usage = usageFromAnthropic(message.usage);
  return {
    id: message.id ?? 'msg_unknown',
    model: message.model ?? '',
    content,
    // Stopped to call only the answer tool: the answer is complete.
    stopReason: message.stop_reason === 'tool_use' && !content.some((p) => p.type === 'tool_call') ? 'stop' : stopReasonFromAnthropic(message.stop_reason),
    ...(message.stop_sequence ? { stopSequence: message.stop_sequence } : {}),
    usage: { ...usage, inputTokens: usage?.inputTokens ?? 0, outputTokens: usage?.outputTokens ?? 0 },
  };
}

export const anthropicMessageId = (id: string) => (id.startsWith('msg_') ? id : `msg_${id.replace(/^chatcmpl-/, '')}`);

export function canonicalToAnthropicResponse(res: CanonicalResponse): Record<string, unknown> {
  return {
    id: anthropicMessageId(res.id),
    type: 'message',
    role: 'assistant',
    model: res.model,
    content: res.content.map((part) => {
      if (part.type === 'text') return { type: 'text', text: part.text };
      if (part.type === 'tool_call') return { type: 'tool_use', id: anthropicToolId(part.id), name: part.name, input: safeJson(part.arguments) };
      return { type: 'thinking', thinking: part.text, signature: part.signature ?? '' };
    }),
    stop_reason: stopReasonToAnthropic(res.stopReason, res.stopSequence),
    stop_sequence: res.stopSequence ?? null,
    usage: usageToAnthropic(res.usage),
  };
}

/** Tool arguments as an object; a model that produced invalid JSON gets it wrapped rather than lost. */
export function safeJson(text: string): unknown {
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    return { _raw: text };
  }
}
