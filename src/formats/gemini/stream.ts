import { UpstreamError } from '../../errors/index.js';
import { emptyUsage, type StreamEvent, type Usage } from '../canonical.js';
import type { PassthroughTap } from '../codec.js';
import { parseSSEData, sseMessage, type SSEMessage } from '../sse.js';
import { finishReasonToGemini, stopReasonFromGemini } from './response/finish-reason.js';
import { responsePartToCanonical, responsePartToGemini } from './response/parts.js';
import { geminiResponseSchema, parseGeminiResponse } from './response/schema.js';
import { reportedUsageFromGemini, usageFromGemini, usageToGemini } from './response/usage.js';

/**
 * streamGenerateContent?alt=sse → canonical events. Every `data:` event is a whole GenerateContentResponse holding
 * the next piece of the candidate; there is no terminator event, the last chunk carries `finishReason`
 * (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent). usageMetadata comes with every
 * chunk and grows, so the last one counts. Function calls arrive whole: each becomes start, one delta with all of its
 * arguments, end. An `error` payload throws UpstreamError.
 */
export async function* decodeGeminiStream(messages: AsyncIterable<SSEMessage>): AsyncGenerator<StreamEvent> {
  let started = false;
  let responseId: string | undefined;
  let usage: Usage | undefined;
  let finishReason: string | undefined;
  let blocked = false;
  let toolCalls = 0;
  for await (const message of messages) {
    const data = parseSSEData(message);
    if (data === undefined) continue;
    const chunk = parseGeminiResponse(data);
    if (!started) {
      started = true;
      responseId = chunk.responseId;
      yield {
        type: 'start', id: chunk.responseId ?? 'gemini-stream', model: chunk.modelVersion ?? '',
        ...(chunk.usageMetadata ? { usage: reportedUsageFromGemini(chunk.usageMetadata) } : {}),
      };
    }
    if (chunk.usageMetadata) usage = usageFromGemini(chunk.usageMetadata);
    const candidate = chunk.candidates?.[0];
    for (const part of candidate?.content?.parts ?? []) {
      const converted = responsePartToCanonical(part, responseId, toolCalls);
      if (converted?.type === 'text') yield { type: 'text_delta', text: converted.text };
      else if (converted?.type === 'reasoning') yield { type: 'reasoning_delta', text: converted.text };
      else if (converted?.type === 'tool_call') {
        const index = toolCalls++;
        yield { type: 'tool_call_start', index, id: converted.id, name: converted.name };
        yield { type: 'tool_call_delta', index, argumentsDelta: converted.arguments };
        yield { type: 'tool_call_end', index };
      }
    }
    if (candidate?.finishReason) finishReason = candidate.finishReason;
    if (!candidate && chunk.promptFeedback?.blockReason) blocked = true;
  }
  if (!started) throw new UpstreamError('gemini', 'Gemini stream ended before its first chunk', { retryable: true });
  if (finishReason === undefined && !blocked) {
    throw new UpstreamError('gemini', 'Gemini stream ended before its finishReason', { retryable: false, upstreamStatus: 502 });
  }
  yield {
    type: 'finish',
    stopReason: finishReason === undefined ? 'content_filter' : stopReasonFromGemini(finishReason, toolCalls > 0),
    usage: usage ?? emptyUsage(),
  };
}

interface BufferedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/**
 * Canonical events → what Gemini sends for streamGenerateContent?alt=sse: a `data:` GenerateContentResponse per text
 * delta, each function call as one whole part (Gemini never streams arguments, so they are buffered until the call
 * ends), and a last chunk with finishReason and usageMetadata. No terminator. Gemini always reports usage, so
 * `includeUsage` changes nothing.
 */
export async function* encodeGeminiStream(events: AsyncIterable<StreamEvent>): AsyncGenerator<string> {
  let model = '';
  let id = '';
  const toolCalls = new Map<number, BufferedToolCall>();
  const chunk = (parts: Array<Record<string, unknown>>, finish?: { finishReason: string; usageMetadata: unknown }) =>
    sseMessage({
      candidates: [{ content: { role: 'model', parts }, ...(finish ? { finishReason: finish.finishReason } : {}), index: 0 }],
      ...(finish ? { usageMetadata: finish.usageMetadata } : {}),
      modelVersion: model,
      responseId: id,
    });
  const toolCallChunk = (call: BufferedToolCall) => chunk([responsePartToGemini({ type: 'tool_call', ...call })]);
  for await (const event of events) {
    switch (event.type) {
      case 'start':
        model = event.model;
        id = event.id;
        break;
      case 'text_delta':
        if (event.text) yield chunk([responsePartToGemini({ type: 'text', text: event.text })]);
        break;
      case 'reasoning_delta':
        if (event.text) yield chunk([responsePartToGemini({ type: 'reasoning', text: event.text })]);
        break;
      case 'tool_call_start':
        toolCalls.set(event.index, { id: event.id, name: event.name, arguments: '' });
        break;
      case 'tool_call_delta': {
        const call = toolCalls.get(event.index);
        if (call) call.arguments += event.argumentsDelta;
        break;
      }
      case 'tool_call_end': {
        const call = toolCalls.get(event.index);
        toolCalls.delete(event.index);
        if (call) yield toolCallChunk(call);
        break;
      }
      case 'finish':
        // Calls a producer never ended still reach the client, in order, before the last chunk.
        for (const index of [...toolCalls.keys()].sort((a, b) => a - b)) yield toolCallChunk(toolCalls.get(index)!);
        toolCalls.clear();
        yield chunk([{ text: '' }], { finishReason: finishReasonToGemini(event.stopReason), usageMetadata: usageToGemini(event.usage) });
        break;
    }
  }
}

/**
 * Reads one message of a Gemini stream passed through untouched: usage (every chunk carries usageMetadata; the
 * caller keeps the last), whether it carries content (text or a function call), and an in-stream error payload.
 * Never throws: a chunk it cannot read is still forwarded.
 */
export function tapGeminiStreamMessage(message: SSEMessage): PassthroughTap {
  const parsed = geminiResponseSchema.safeParse(parseSSEData(message));
  if (!parsed.success) return { forward: true };
  const chunk = parsed.data;
  if (chunk.error) return { forward: true, error: `${chunk.error.status ?? chunk.error.code ?? 'error'}: ${chunk.error.message ?? ''}` };
  const parts = chunk.candidates?.[0]?.content?.parts ?? [];
  const content = parts.some((part) => Boolean(part.text) || part.functionCall !== undefined);
  return { forward: true, ...(chunk.usageMetadata ? { usage: reportedUsageFromGemini(chunk.usageMetadata) } : {}), ...(content ? { content } : {}) };
}
