import type { WireFormat } from '../core/index.js';
import type { CanonicalResponse, ReasoningPart, StreamEvent, TextPart, ToolCallPart } from '../formats/canonical.js';
import { codecs } from '../formats/index.js';
import { parseSSE } from '../formats/sse.js';
import type { ResponseBody } from '../pipeline/types.js';

/**
 * A served answer as a canonical response, read back with the client format's own codec (the answer is in that
 * format: pass-through bytes, translated JSON, or the SSE text that went to the client).
 */
export async function canonicalOfAnswer(format: WireFormat, answer: { kind: 'json'; value: unknown } | { kind: 'bytes'; value: Uint8Array } | { kind: 'sse'; text: string }): Promise<CanonicalResponse> {
  const codec = codecs[format];
  if (answer.kind === 'json') return codec.responseToCanonical(answer.value);
  if (answer.kind === 'bytes') return codec.responseToCanonical(JSON.parse(Buffer.from(answer.value).toString('utf8')));
  const text = answer.text;
  async function* chunks() {
    yield text;
  }
  return responseOfEvents(codec.decodeStream(parseSSE(chunks())));
}

/** Folds a canonical event stream into the response it describes (deltas joined, tool calls in index order). */
export async function responseOfEvents(events: AsyncIterable<StreamEvent>): Promise<CanonicalResponse> {
  let response: CanonicalResponse | undefined;
  const content: Array<TextPart | ToolCallPart | ReasoningPart> = [];
  const calls = new Map<number, ToolCallPart>();
  for await (const event of events) {
    const last = content.at(-1);
    switch (event.type) {
      case 'start':
        response = { id: event.id, model: event.model, content, stopReason: 'stop', usage: { inputTokens: 0, outputTokens: 0 }, ...(event.created ? { created: event.created } : {}) };
        break;
      case 'text_delta':
        if (last?.type === 'text') last.text += event.text;
        else content.push({ type: 'text', text: event.text });
        break;
      case 'reasoning_delta':
        if (last?.type === 'reasoning' && last.signature === undefined) {
          last.text += event.text;
          if (event.signature !== undefined) last.signature = event.signature;
        } else content.push({ type: 'reasoning', text: event.text, ...(event.signature !== undefined ? { signature: event.signature } : {}) });
        break;
      case 'tool_call_start': {
        const call: ToolCallPart = { type: 'tool_call', id: event.id, name: event.name, arguments: '' };
        calls.set(event.index, call);
        content.push(call);
        break;
      }
      case 'tool_call_delta': {
        const call = calls.get(event.index);
        if (call) call.arguments += event.argumentsDelta;
        break;
      }
      case 'tool_call_end':
        break;
      case 'finish':
        if (!response) throw new Error('stream finished before it started');
        response.stopReason = event.stopReason;
        response.usage = event.usage;
        if (event.stopSequence !== undefined) response.stopSequence = event.stopSequence;
        return response;
    }
  }
  throw new Error('stream ended without a finish event');
}

/** The events that replay a stored response as a stream: start, each part as one delta, finish. */
export function eventsOfResponse(response: CanonicalResponse): StreamEvent[] {
  const events: StreamEvent[] = [{ type: 'start', id: response.id, model: response.model, ...(response.created ? { created: response.created } : {}), usage: { inputTokens: response.usage.inputTokens } }];
  let toolIndex = 0;
  for (const part of response.content) {
    if (part.type === 'text') events.push({ type: 'text_delta', text: part.text });
    else if (part.type === 'reasoning') events.push({ type: 'reasoning_delta', text: part.text, ...(part.signature !== undefined ? { signature: part.signature } : {}) });
    else {
      const index = toolIndex++;
      events.push({ type: 'tool_call_start', index, id: part.id, name: part.name });
      if (part.arguments) events.push({ type: 'tool_call_delta', index, argumentsDelta: part.arguments });
      events.push({ type: 'tool_call_end', index });
    }
  }
  events.push({ type: 'finish', stopReason: response.stopReason, ...(response.stopSequence !== undefined ? { stopSequence: response.stopSequence } : {}), usage: response.usage });
  return events;
}

/** A stored response in the client's format: JSON, or a stream encoded by the client's codec. */
export function replayResponse(format: WireFormat, response: CanonicalResponse, stream: { includeUsage: boolean } | undefined): ResponseBody {
  const codec = codecs[format];
  if (!stream) return { kind: 'json', value: codec.responseFromCanonical(response) };
  async function* events() {
    yield* eventsOfResponse(response);
  }
  return { kind: 'sse', events: codec.encodeStream(events(), stream) };
}
