import { UpstreamError } from '../../errors/index.js';
import type { StopReason, StreamEvent, Usage } from '../canonical.js';
import type { PassthroughTap, ResponseContext } from '../codec.js';
import { parseSSEData, sseMessage, type SSEMessage } from '../sse.js';
import {
  echoedParameters, encryptedFrom, functionCallItem, itemId, messageItem, reasoningItem, responseIdFor, statusOf, stopReasonFromResponses, usageFromResponses,
  usageToResponses, type ResponsesUsage,
} from './response.js';

/**
 * The Responses streaming events (https://platform.openai.com/docs/api-reference/responses-streaming), as typed by the
 * `openai` SDK's `ResponseStreamEvent`. Only the fields this module reads are declared.
 */
interface ResponsesEvent {
  type?: string;
  sequence_number?: number;
  response?: { id?: string; model?: string; created_at?: number; status?: string; incomplete_details?: { reason?: string } | null; usage?: ResponsesUsage | null; error?: { message?: string } | null; output?: Array<{ type?: string }> };
  output_index?: number;
  item?: { type?: string; call_id?: string; name?: string; arguments?: string; encrypted_content?: string | null };
  delta?: string;
  message?: string;
  code?: string | null;
  error?: { message?: string; code?: string | null };
}

/** Terminal events: the whole response, usage included, is in each of them. */
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

const eventOf = (message: SSEMessage): ResponsesEvent | undefined => parseSSEData(message) as ResponsesEvent | undefined;

/**
 * Responses event stream → canonical events. Tool calls are numbered in the order their items open (the canonical
 * index), whatever their output index; the stop reason and usage come from the terminal event.
 */
export async function* decodeResponsesStream(messages: AsyncIterable<SSEMessage>): AsyncGenerator<StreamEvent> {
  let started = false;
  const toolIndex = new Map<number, { index: number; streamed: boolean }>();
  let finish: { stopReason: StopReason; usage: Usage } | undefined;
  for await (const message of messages) {
    const event = eventOf(message);
    if (!event?.type) continue;
    if (event.type === 'error') {
      throw new UpstreamError('responses', `Upstream stream error: ${event.message ?? event.error?.message ?? 'unknown'}`, { retryable: !started, upstreamStatus: 502 });
    }
    if (event.type === 'response.created' || (!started && event.response)) {
      if (!started) {
        started = true;
        yield { type: 'start', id: event.response?.id ?? 'resp_stream', model: event.response?.model ?? '', ...(event.response?.created_at ? { created: event.response.created_at } : {}) };
      }
      if (event.type === 'response.created') continue;
    }
    if (!started) continue;
    switch (event.type) {
      case 'response.output_item.added':
        if (event.item?.type === 'function_call') {
          const index = toolIndex.size;
          toolIndex.set(event.output_index ?? index, { index, streamed: false });
          yield { type: 'tool_call_start', index, id: event.item.call_id ?? `call_${index}`, name: event.item.name ?? '' };
        }
        break;
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        if (event.delta) yield { type: 'text_delta', text: event.delta };
        break;
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        if (event.delta) yield { type: 'reasoning_delta', text: event.delta };
        break;
      case 'response.function_call_arguments.delta': {
        const call = toolIndex.get(event.output_index ?? -1);
        if (call && event.delta) {
          call.streamed = true;
          yield { type: 'tool_call_delta', index: call.index, argumentsDelta: event.delta };
        }
        break;
      }
      case 'response.output_item.done': {
        if (event.item?.type === 'reasoning' && event.item.encrypted_content) yield { type: 'reasoning_delta', text: '', signature: event.item.encrypted_content };
        const call = event.item?.type === 'function_call' ? toolIndex.get(event.output_index ?? -1) : undefined;
        if (call) {
          // Arguments that arrived only whole (never as deltas) still reach the client.
          if (!call.streamed) yield { type: 'tool_call_delta', index: call.index, argumentsDelta: event.item?.arguments || '{}' };
          yield { type: 'tool_call_end', index: call.index };
        }
        break;
      }
      default:
        if (event.type && TERMINAL.has(event.type)) {
          const response = event.response ?? {};
          if (event.type === 'response.failed') {
            throw new UpstreamError('responses', `Upstream response failed: ${response.error?.message ?? 'unknown error'}`, { retryable: false, upstreamStatus: 502 });
          }
          const hasToolCalls = toolIndex.size > 0 || (response.output ?? []).some((item) => item.type === 'function_call');
          finish = { stopReason: stopReasonFromResponses(response.status, response.incomplete_details, hasToolCalls), usage: usageFromResponses(response.usage) ?? { inputTokens: 0, outputTokens: 0 } };
        }
    }
    if (finish) break;
  }
  if (!started) throw new UpstreamError('responses', 'Upstream stream ended before any event', { retryable: true });
  // A stream cut short (no terminal event) must not pass for a complete answer.
  if (!finish) throw new UpstreamError('responses', 'Upstream stream ended before response.completed', { retryable: false, upstreamStatus: 502 });
  yield { type: 'finish', ...finish };
}

type OpenItem =
  | { kind: 'message'; id: string; outputIndex: number; text: string }
  | { kind: 'reasoning'; id: string; outputIndex: number; text: string; signature?: string; partOpen: boolean }
  | { kind: 'function_call'; id: string; outputIndex: number; callId: string; name: string; arguments: string };

/**
 * Canonical events → the event sequence OpenAI sends, with `sequence_number` from 0: `response.created`,
 * `response.in_progress`, per output item `output_item.added` … `output_item.done` (with `content_part.*` and
 * `output_text.*` for messages, `reasoning_summary_*` for reasoning, `function_call_arguments.*` for calls), then
 * `response.completed`, `response.incomplete` or `response.failed` carrying the whole response — what the SDK's `responses.stream`
 * accumulator checks event by event.
 */
export async function* encodeResponsesStream(events: AsyncIterable<StreamEvent>, opts: { context?: ResponseContext } = {}): AsyncGenerator<string> {
  const context = opts.context ?? {};
  let sequence = 0;
  const emit = (type: string, fields: Record<string, unknown>) => sseMessage({ type, sequence_number: sequence++, ...fields }, type);
  let response: Record<string, unknown> = {};
  const output: Array<Record<string, unknown>> = [];
  let current: OpenItem | undefined;
  const calls = new Map<number, Extract<OpenItem, { kind: 'function_call' }>>();

  function* close(): Generator<string> {
    const item = current;
    if (!item) return;
    current = undefined;
    if (item.kind === 'message') {
      const part = { type: 'output_text', text: item.text, annotations: [], logprobs: [] };
      yield emit('response.output_text.done', { item_id: item.id, output_index: item.outputIndex, content_index: 0, text: item.text, logprobs: [] });
      yield emit('response.content_part.done', { item_id: item.id, output_index: item.outputIndex, content_index: 0, part });
      output[item.outputIndex] = messageItem(item.id, item.text);
    } else if (item.kind === 'reasoning') {
      if (item.partOpen) {
        yield emit('response.reasoning_summary_text.done', { item_id: item.id, output_index: item.outputIndex, summary_index: 0, text: item.text });
        yield emit('response.reasoning_summary_part.done', { item_id: item.id, output_index: item.outputIndex, summary_index: 0, part: { type: 'summary_text', text: item.text } });
      }
      output[item.outputIndex] = reasoningItem(item.id, item.text, encryptedFrom(item.signature, context.upstreamFormat));
    } else {
      return;
    }
    yield emit('response.output_item.done', { output_index: item.outputIndex, item: output[item.outputIndex] });
  }

  function* closeCall(index: number): Generator<string> {
    const call = calls.get(index);
    if (!call) return;
    calls.delete(index);
    const args = call.arguments || '{}';
    yield emit('response.function_call_arguments.done', { item_id: call.id, output_index: call.outputIndex, name: call.name, arguments: args });
    output[call.outputIndex] = functionCallItem(call.id, { id: call.callId, name: call.name, arguments: args });
    yield emit('response.output_item.done', { output_index: call.outputIndex, item: output[call.outputIndex] });
  }

  for await (const event of events) {
    switch (event.type) {
      case 'start': {
        const id = responseIdFor(context.requestId, event.id);
        response = {
          id, object: 'response', created_at: event.created ?? Math.floor(Date.now() / 1000), status: 'in_progress', error: null,
          incomplete_details: null, model: event.model, output: [], usage: null, ...echoedParameters(context.request),
        };
        yield emit('response.created', { response });
        yield emit('response.in_progress', { response });
        break;
      }
      case 'text_delta': {
        if (current?.kind !== 'message') {
          yield* close();
          const outputIndex = output.length;
          current = { kind: 'message', id: itemId('msg', String(response.id), outputIndex), outputIndex, text: '' };
          output.push(messageItem(current.id, '', 'in_progress'));
          yield emit('response.output_item.added', { output_index: outputIndex, item: { ...messageItem(current.id, '', 'in_progress'), content: [] } });
          yield emit('response.content_part.added', { item_id: current.id, output_index: outputIndex, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
        }
        current.text += event.text;
        yield emit('response.output_text.delta', { item_id: current.id, output_index: current.outputIndex, content_index: 0, delta: event.text, logprobs: [] });
        break;
      }
      case 'reasoning_delta': {
        if (current?.kind !== 'reasoning') {
          yield* close();
          const outputIndex = output.length;
          current = { kind: 'reasoning', id: itemId('rs', String(response.id), outputIndex), outputIndex, text: '', partOpen: false };
          output.push(reasoningItem(current.id, ''));
          yield emit('response.output_item.added', { output_index: outputIndex, item: reasoningItem(current.id, '') });
        }
        if (event.signature) current.signature = (current.signature ?? '') + event.signature;
        if (event.text) {
          if (!current.partOpen) {
            current.partOpen = true;
            yield emit('response.reasoning_summary_part.added', { item_id: current.id, output_index: current.outputIndex, summary_index: 0, part: { type: 'summary_text', text: '' } });
          }
          current.text += event.text;
          yield emit('response.reasoning_summary_text.delta', { item_id: current.id, output_index: current.outputIndex, summary_index: 0, delta: event.text });
        }
        break;
      }
      case 'tool_call_start': {
        yield* close();
        const outputIndex = output.length;
        const call = { kind: 'function_call' as const, id: itemId('fc', String(response.id), outputIndex), outputIndex, callId: event.id, name: event.name, arguments: '' };
        calls.set(event.index, call);
        output.push(functionCallItem(call.id, { id: call.callId, name: call.name, arguments: '' }, 'in_progress'));
        yield emit('response.output_item.added', { output_index: outputIndex, item: output[outputIndex] });
        break;
      }
      case 'tool_call_delta': {
        const call = calls.get(event.index);
        if (!call || !event.argumentsDelta) break;
        call.arguments += event.argumentsDelta;
        yield emit('response.function_call_arguments.delta', { item_id: call.id, output_index: call.outputIndex, delta: event.argumentsDelta });
        break;
      }
      case 'tool_call_end':
        yield* closeCall(event.index);
        break;
      case 'finish': {
        yield* close();
        for (const index of [...calls.keys()]) yield* closeCall(index);
        const status = statusOf(event.stopReason);
        const final = { ...response, ...status, output, usage: usageToResponses(event.usage) };
        yield emit(`response.${status.status}`, { response: final });
        break;
      }
    }
  }
}

/** Pass-through tap: usage from the terminal event, content markers, in-stream errors; every event is forwarded. */
export function tapResponsesStreamMessage(message: SSEMessage): PassthroughTap {
  const event = eventOf(message);
  if (!event?.type) return { forward: true };
  if (event.type === 'error') return { forward: true, error: event.message ?? event.error?.message ?? 'stream error' };
  if (event.type === 'response.failed') return { forward: true, error: event.response?.error?.message ?? 'response failed' };
  if (TERMINAL.has(event.type)) {
    const usage = usageFromResponses(event.response?.usage);
    return { forward: true, ...(usage ? { usage } : {}) };
  }
  const content = event.type === 'response.output_text.delta' || event.type === 'response.function_call_arguments.delta' || event.type === 'response.refusal.delta'
    || event.type === 'response.reasoning_summary_text.delta' || (event.type === 'response.output_item.added' && event.item?.type === 'function_call');
  return { forward: true, ...(content ? { content } : {}) };
}
