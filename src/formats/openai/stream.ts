import { UpstreamError } from '../../errors/index.js';
import type { StopReason, StreamEvent, Usage } from '../canonical.js';
import type { PassthroughTap } from '../codec.js';
import { parseSSEData, sseMessage, type SSEMessage } from '../sse.js';
import { openaiId, stopReasonFromOpenAI, stopReasonToOpenAI, usageFromOpenAI, usageToOpenAI } from './response.js';

interface Chunk {
  id?: string;
  model?: string;
  created?: number;
  choices?: Array<{
    delta?: { content?: string | null; refusal?: string | null; reasoning_content?: string | null; tool_calls?: Array<{ index: number; id?: string; function?: { name?: string; arguments?: string } }> };
    finish_reason?: string | null;
  }>;
  usage?: Parameters<typeof usageFromOpenAI>[0];
  error?: { message?: string; type?: string };
}

/**
 * OpenAI chat.completion.chunk stream → canonical events. Usage comes in its own chunk (`choices: []`) after the
 * finish_reason chunk when `stream_options.include_usage` was set, so `finish` is emitted at the end of the stream.
 */
export async function* decodeOpenAIStream(messages: AsyncIterable<SSEMessage>): AsyncGenerator<StreamEvent> {
  let started = false;
  let stopReason: StopReason | undefined;
  let usage: Usage | undefined;
  const openCalls = new Set<number>();
  for await (const message of messages) {
    if (message.data === '[DONE]') break;
    const chunk = parseSSEData(message) as Chunk | undefined;
    if (!chunk) continue;
    if (chunk.error) throw new UpstreamError('openai', `Upstream stream error: ${chunk.error.message ?? 'unknown'}`, { retryable: false, upstreamStatus: 502 });
    if (!started) {
      started = true;
      yield { type: 'start', id: chunk.id ?? 'chatcmpl-stream', model: chunk.model ?? '', ...(chunk.created ? { created: chunk.created } : {}) };
    }
    if (chunk.usage) usage = usageFromOpenAI(chunk.usage) ?? usage;
    // Only the first choice is translated (n > 1 is refused when translating); chunks of others are not mixed in.
    const choice = chunk.choices?.find((c) => (c as { index?: number }).index === undefined || (c as { index?: number }).index === 0);
    if (!choice) continue;
    const delta = choice.delta;
    if (delta?.reasoning_content) yield { type: 'reasoning_delta', text: delta.reasoning_content };
    if (delta?.content) yield { type: 'text_delta', text: delta.content };
    if (delta?.refusal) yield { type: 'text_delta', text: delta.refusal };
    for (const call of delta?.tool_calls ?? []) {
      if (!openCalls.has(call.index)) {
        openCalls.add(call.index);
        yield { type: 'tool_call_start', index: call.index, id: call.id ?? `call_${call.index}`, name: call.function?.name ?? '' };
      }
      if (call.function?.arguments) yield { type: 'tool_call_delta', index: call.index, argumentsDelta: call.function.arguments };
    }
    if (choice.finish_reason) stopReason = stopReasonFromOpenAI(choice.finish_reason);
  }
  if (!started) throw new UpstreamError('openai', 'Upstream stream ended before any event', { retryable: true });
  // A stream cut short (no finish_reason) must not pass for a complete answer.
  if (stopReason === undefined) throw new UpstreamError('openai', 'Upstream stream ended before its finish_reason', { retryable: false, upstreamStatus: 502 });
  for (const index of openCalls) yield { type: 'tool_call_end', index };
  yield { type: 'finish', stopReason: stopReason ?? 'stop', usage: usage ?? { inputTokens: 0, outputTokens: 0 } };
}

/** Canonical events → the exact chunk sequence OpenAI sends (role chunk, deltas, finish chunk, usage chunk, [DONE]). */
export async function* encodeOpenAIStream(events: AsyncIterable<StreamEvent>, opts: { includeUsage: boolean }): AsyncGenerator<string> {
  let base = { id: 'chatcmpl-stream', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: '' };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    sseMessage({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  for await (const event of events) {
    switch (event.type) {
      case 'start':
        base = { ...base, id: openaiId(event.id), model: event.model, ...(event.created ? { created: event.created } : {}) };
        yield chunk({ role: 'assistant', content: '', refusal: null });
        break;
      case 'text_delta':
        yield chunk({ content: event.text });
        break;
      case 'reasoning_delta':
        // OpenAI's own Chat Completions returns no reasoning; OpenAI-compatible clients read `reasoning_content`.
        if (event.text) yield chunk({ reasoning_content: event.text });
        break;
      case 'tool_call_start':
        yield chunk({ tool_calls: [{ index: event.index, id: event.id, type: 'function', function: { name: event.name, arguments: '' } }] });
        break;
      case 'tool_call_delta':
        yield chunk({ tool_calls: [{ index: event.index, function: { arguments: event.argumentsDelta } }] });
        break;
      case 'tool_call_end':
        break;
      case 'finish':
        yield chunk({}, stopReasonToOpenAI(event.stopReason));
        if (opts.includeUsage) yield sseMessage({ ...base, choices: [], usage: usageToOpenAI(event.usage) });
        break;
    }
  }
  yield 'data: [DONE]\n\n';
}

/** Pass-through tap: reads usage and content markers, holds back the usage chunk the gateway asked for itself. */
export function tapOpenAIStreamMessage(message: SSEMessage, clientWantsUsage: boolean): PassthroughTap {
  if (message.data === '[DONE]') return { forward: true };
  const chunk = parseSSEData(message) as Chunk | undefined;
  if (!chunk) return { forward: true };
  if (chunk.error) return { forward: true, error: chunk.error.message ?? 'stream error' };
  const usage = chunk.usage ? usageFromOpenAI(chunk.usage) : undefined;
  const delta = chunk.choices?.[0]?.delta;
  const content = Boolean(delta?.content || delta?.tool_calls?.length || delta?.refusal || delta?.reasoning_content);
  const usageOnly = usage !== undefined && (chunk.choices?.length ?? 0) === 0;
  return { forward: !(usageOnly && !clientWantsUsage), ...(usage ? { usage } : {}), ...(content ? { content } : {}) };
}
