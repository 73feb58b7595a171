import { UpstreamError } from '../../errors/index.js';
import { emptyUsage, type StreamEvent, type Usage } from '../canonical.js';
import { parseSSEData, type SSEMessage } from '../sse.js';
import { stopReasonFromGemini } from './finish-reason.js';
import { responsePartToCanonical } from './response-parts.js';
import { parseGeminiResponse } from './response-schema.js';
import { reportedUsageFromGemini, usageFromGemini } from './usage.js';

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
