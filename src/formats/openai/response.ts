import { UpstreamError } from '../../errors/index.js';
import type { CanonicalResponse, ReasoningPart, StopReason, TextPart, ToolCallPart, Usage } from '../canonical.js';

/** OpenAI finish_reason ⇄ canonical stop reason (function_call is the legacy name of tool_calls). */
export function stopReasonFromOpenAI(reason: string | null | undefined): StopReason {
  switch (reason) {
    case 'length': return 'length';
    case 'tool_calls':
    case 'function_call': return 'tool_calls';
    case 'content_filter': return 'content_filter';
    default: return 'stop';
  }
}

export function stopReasonToOpenAI(reason: StopReason): string {
  return reason === 'error' ? 'stop' : reason;
}

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

export function usageFromOpenAI(usage: OpenAIUsage | null | undefined): Usage | undefined {
  if (!usage || typeof usage.prompt_tokens !== 'number') return undefined;
  const cached = usage.prompt_tokens_details?.cached_tokens;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  return {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens ?? 0,
    ...(cached ? { cachedInputTokens: cached } : {}),
    ...(reasoning ? { reasoningTokens: reasoning } : {}),
  };
}

export function usageToOpenAI(usage: Usage): Record<string, unknown> {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
  };
}

interface OpenAIChoice {
  message?: { content?: string | null; refusal?: string | null; reasoning_content?: string | null; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }> | null };
  finish_reason?: string | null;
}

export function openaiResponseToCanonical(body: unknown): CanonicalResponse {
  const response = body as { id?: string; model?: string; created?: number; choices?: OpenAIChoice[]; usage?: OpenAIUsage };
  const choice = response?.choices?.[0];
  if (!choice) throw new UpstreamError('openai', 'Upstream response has no choices', { retryable: false, upstreamStatus: 502 });
  const content: Array<TextPart | ToolCallPart | ReasoningPart> = [];
  // OpenAI-compatible reasoning servers (DeepSeek, vLLM, ...) return the reasoning beside the answer.
  if (choice.message?.reasoning_content) content.push({ type: 'reasoning', text: choice.message.reasoning_content });
  const text = choice.message?.content ?? choice.message?.refusal;
  if (text) content.push({ type: 'text', text });
  for (const call of choice.message?.tool_calls ?? []) content.push({ type: 'tool_call', id: call.id, name: call.function.name, arguments: call.function.arguments });
  return {
    id: response.id ?? 'chatcmpl-unknown',
    model: response.model ?? '',
    content,
    stopReason: stopReasonFromOpenAI(choice.finish_reason),
    usage: usageFromOpenAI(response.usage) ?? { inputTokens: 0, outputTokens: 0 },
    ...(response.created ? { created: response.created } : {}),
  };
}

export const openaiId = (id: string) => (id.startsWith('chatcmpl-') ? id : `chatcmpl-${id.replace(/^msg_/, '')}`);

export function canonicalToOpenAIResponse(res: CanonicalResponse): Record<string, unknown> {
  const text = res.content.filter((p): p is TextPart => p.type === 'text').map((p) => p.text).join('');
  const calls = res.content.filter((p): p is ToolCallPart => p.type === 'tool_call');
  const reasoning = res.content.filter((p): p is ReasoningPart => p.type === 'reasoning').map((p) => p.text).join('');
  return {
    id: openaiId(res.id),
    object: 'chat.completion',
    created: res.created ?? Math.floor(Date.now() / 1000),
    model: res.model,
    choices: [{
      index: 0,
      message: {
        role: 'assistant',
        content: text === '' && calls.length ? null : text,
        refusal: null,
        // Where OpenAI-compatible clients (Vercel AI SDK, LangChain, DeepSeek's SDKs) look for reasoning text.
        ...(reasoning ? { reasoning_content: reasoning } : {}),
        ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
      },
      logprobs: null,
      finish_reason: stopReasonToOpenAI(res.stopReason),
    }],
    usage: usageToOpenAI(res.usage),
  };
}
