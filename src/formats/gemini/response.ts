import { UpstreamError } from '../../errors/index.js';
import type { CanonicalResponse, ReasoningPart, StopReason, StreamEvent, TextPart, ToolCallPart, Usage } from '../canonical.js';
import type { PassthroughTap } from '../codec.js';
import { parseSSEData, sseMessage, type SSEMessage } from '../sse.js';

interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  totalTokenCount?: number;
}

interface GeminiResponse {
  candidates?: Array<{
    content?: { role?: string; parts?: Array<{ text?: string; thought?: boolean; functionCall?: { name: string; args?: unknown; id?: string } }> };
    finishReason?: string;
  }>;
  usageMetadata?: GeminiUsage;
  modelVersion?: string;
  responseId?: string;
  promptFeedback?: { blockReason?: string };
  error?: { code?: number; message?: string; status?: string };
}

/** finishReason values: https://ai.google.dev/api/generate-content#FinishReason */
export function stopReasonFromGemini(reason: string | undefined, hasToolCalls: boolean): StopReason {
  if (hasToolCalls) return 'tool_calls';
  switch (reason) {
    case 'MAX_TOKENS': return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY': return 'content_filter';
    case 'MALFORMED_FUNCTION_CALL':
    case 'OTHER': return 'error';
    default: return 'stop';
  }
}

export function stopReasonToGemini(reason: StopReason): string {
  switch (reason) {
    case 'length': return 'MAX_TOKENS';
    case 'content_filter': return 'SAFETY';
    case 'error': return 'OTHER';
    default: return 'STOP'; // Gemini reports STOP for function calls too
  }
}

/** Gemini's promptTokenCount already includes cachedContentTokenCount; thoughts are billed as output. */
export function usageFromGemini(usage: GeminiUsage | undefined): Usage | undefined {
  if (!usage || usage.promptTokenCount === undefined) return undefined;
  const thoughts = usage.thoughtsTokenCount ?? 0;
  return {
    inputTokens: usage.promptTokenCount,
    outputTokens: (usage.candidatesTokenCount ?? 0) + thoughts,
    ...(usage.cachedContentTokenCount ? { cachedInputTokens: usage.cachedContentTokenCount } : {}),
    ...(thoughts ? { reasoningTokens: thoughts } : {}),
  };
}

export function usageToGemini(usage: Usage): GeminiUsage {
  const thoughts = usage.reasoningTokens ?? 0;
  return {
    promptTokenCount: usage.inputTokens,
    candidatesTokenCount: usage.outputTokens - thoughts,
    totalTokenCount: usage.inputTokens + usage.outputTokens,
    ...(usage.cachedInputTokens ? { cachedContentTokenCount: usage.cachedInputTokens } : {}),
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
  };
}

function upstreamError(error: NonNullable<GeminiResponse['error']>): UpstreamError {
  const status = error.code ?? 502;
  return new UpstreamError('gemini', `Upstream error (${error.status ?? status}): ${error.message ?? 'unknown'}`, { retryable: status >= 500 || status === 429, upstreamStatus: status >= 400 ? status : 502 });
}

export function geminiResponseToCanonical(body: unknown): CanonicalResponse {
  const response = body as GeminiResponse;
  if (response?.error) throw upstreamError(response.error);
  const candidate = response?.candidates?.[0];
  const content: Array<TextPart | ToolCallPart | ReasoningPart> = [];
  (candidate?.content?.parts ?? []).forEach((part, i) => {
    if (part.functionCall) content.push({ type: 'tool_call', id: part.functionCall.id ?? `call_${i}`, name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) });
    else if (part.text !== undefined) content.push(part.thought ? { type: 'reasoning', text: part.text } : { type: 'text', text: part.text });
  });
  const blocked = !candidate && response?.promptFeedback?.blockReason;
  if (!candidate && !blocked) throw new UpstreamError('gemini', 'Upstream response has no candidates', { retryable: false, upstreamStatus: 502 });
  return {
    id: response.responseId ?? 'gemini-response',
    model: response.modelVersion ?? '',
    content,
    stopReason: blocked ? 'content_filter' : stopReasonFromGemini(candidate?.finishReason, content.some((p) => p.type === 'tool_call')),
    usage: usageFromGemini(response.usageMetadata) ?? { inputTokens: 0, outputTokens: 0 },
  };
}

function partsOf(content: CanonicalResponse['content']): Array<Record<string, unknown>> {
  return content.map((part) => {
    if (part.type === 'tool_call') return { functionCall: { name: part.name, args: safeObject(part.arguments) } };
    if (part.type === 'reasoning') return { text: part.text, thought: true };
    return { text: part.text };
  });
}

function safeObject(text: string): unknown {
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    return { _raw: text };
  }
}

export function canonicalToGeminiResponse(res: CanonicalResponse): Record<string, unknown> {
  return {
    candidates: [{ content: { role: 'model', parts: partsOf(res.content) }, finishReason: stopReasonToGemini(res.stopReason), index: 0 }],
    usageMetadata: usageToGemini(res.usage),
    modelVersion: res.model,
    responseId: res.id,
  };
}

/** streamGenerateContent?alt=sse: one GenerateContentResponse per event; function calls arrive whole. */
export async function* decodeGeminiStream(messages: AsyncIterable<SSEMessage>): AsyncGenerator<StreamEvent> {
  let started = false;
  let usage: Usage | undefined;
  let finishReason: string | undefined;
  let toolCalls = 0;
  for await (const message of messages) {
    const chunk = parseSSEData(message) as GeminiResponse | undefined;
    if (!chunk) continue;
    if (chunk.error) throw upstreamError(chunk.error);
    if (!started) {
      started = true;
      yield { type: 'start', id: chunk.responseId ?? 'gemini-stream', model: chunk.modelVersion ?? '' };
    }
    usage = usageFromGemini(chunk.usageMetadata) ?? usage;
    const candidate = chunk.candidates?.[0];
    for (const part of candidate?.content?.parts ?? []) {
      if (part.functionCall) {
        const index = toolCalls++;
        yield { type: 'tool_call_start', index, id: part.functionCall.id ?? `call_${index}`, name: part.functionCall.name };
        yield { type: 'tool_call_delta', index, argumentsDelta: JSON.stringify(part.functionCall.args ?? {}) };
        yield { type: 'tool_call_end', index };
      } else if (part.text) {
        yield part.thought ? { type: 'reasoning_delta', text: part.text } : { type: 'text_delta', text: part.text };
      }
    }
    if (candidate?.finishReason) finishReason = candidate.finishReason;
    if (!candidate && chunk.promptFeedback?.blockReason) finishReason = 'SAFETY';
  }
  if (!started) throw new UpstreamError('gemini', 'Upstream stream ended before any event', { retryable: true });
  if (finishReason === undefined) throw new UpstreamError('gemini', 'Upstream stream ended before its finishReason', { retryable: false, upstreamStatus: 502 });
  yield { type: 'finish', stopReason: stopReasonFromGemini(finishReason, toolCalls > 0), usage: usage ?? { inputTokens: 0, outputTokens: 0 } };
}

/** Canonical events → Gemini SSE: a chunk per text delta, each tool call as one whole functionCall part. */
export async function* encodeGeminiStream(events: AsyncIterable<StreamEvent>): AsyncGenerator<string> {
  let model = '';
  let id = '';
  const args = new Map<number, { name: string; json: string }>();
  const chunk = (parts: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) =>
    sseMessage({ candidates: [{ content: { role: 'model', parts }, index: 0, ...extra }], modelVersion: model, responseId: id });
  for await (const event of events) {
    switch (event.type) {
      case 'start':
        model = event.model;
        id = event.id;
        break;
      case 'text_delta':
        yield chunk([{ text: event.text }]);
        break;
      case 'reasoning_delta':
        if (event.text) yield chunk([{ text: event.text, thought: true }]);
        break;
      case 'tool_call_start':
        args.set(event.index, { name: event.name, json: '' });
        break;
      case 'tool_call_delta': {
        const call = args.get(event.index);
        if (call) call.json += event.argumentsDelta;
        break;
      }
      case 'tool_call_end': {
        const call = args.get(event.index);
        if (call) yield chunk([{ functionCall: { name: call.name, args: safeObject(call.json) } }]);
        args.delete(event.index);
        break;
      }
      case 'finish':
        yield sseMessage({
          candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: stopReasonToGemini(event.stopReason), index: 0 }],
          usageMetadata: usageToGemini(event.usage),
          modelVersion: model,
          responseId: id,
        });
        break;
    }
  }
}

export function tapGeminiStreamMessage(message: SSEMessage): PassthroughTap {
  const chunk = parseSSEData(message) as GeminiResponse | undefined;
  if (!chunk) return { forward: true };
  if (chunk.error) return { forward: true, error: chunk.error.message ?? 'stream error' };
  const usage = usageFromGemini(chunk.usageMetadata);
  const content = (chunk.candidates?.[0]?.content?.parts ?? []).some((p) => p.text || p.functionCall);
  return { forward: true, ...(usage ? { usage } : {}), ...(content ? { content } : {}) };
}
