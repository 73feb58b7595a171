import type { StreamEvent } from '../canonical.js';
import { sseMessage } from '../sse.js';
import { finishReasonToGemini } from './finish-reason.js';
import { responsePartToGemini } from './response-parts.js';
import { usageToGemini } from './usage.js';

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
