import { UpstreamError } from '../../errors/index.js';
import type { StopReason, StreamEvent, Usage } from '../canonical.js';
import type { PassthroughTap } from '../codec.js';
import { parseSSEData, sseMessage, type SSEMessage } from '../sse.js';
import { anthropicToolId } from './request.js';
import { JSON_VALUE_TOOL, answerText, isAnswerTool } from './structured-output.js';
import { anthropicMessageId, stopReasonFromAnthropic, stopReasonToAnthropic, usageFromAnthropic, usageToAnthropic, type AnthropicUsage } from './response.js';

interface AnthropicEvent {
  type: string;
  index?: number;
  message?: { id?: string; model?: string; usage?: AnthropicUsage };
  content_block?: { type: string; id?: string; name?: string; text?: string; thinking?: string; input?: unknown };
  delta?: { type?: string; text?: string; partial_json?: string; thinking?: string; signature?: string; stop_reason?: string | null; stop_sequence?: string | null };
  usage?: AnthropicUsage;
  error?: { type?: string; message?: string };
}

/**
 * Anthropic Messages SSE → canonical events
 * (https://docs.anthropic.com/en/docs/build-with-claude/streaming). Tool call indices count tool_use blocks only.
 */
export async function* decodeAnthropicStream(messages: AsyncIterable<SSEMessage>): AsyncGenerator<StreamEvent> {
  const toolIndexOfBlock = new Map<number, number>();
  /** Tool blocks that have produced argument text (a block with none still needs `{}` for the client to parse). */
  const toolHasArguments = new Set<number>();
  /**
   * Blocks of the structured-output answer tool, whose input is the answer text: streamed as text deltas as it
   * comes, except a wrapped value (`{"value": ...}`), which is buffered so that only the value reaches the client.
   */
  const answerBlocks = new Map<number, { tool: string; buffered: string }>();
  let usage: Partial<Usage> = {};
  let stopReason: StopReason = 'stop';
  let stopSequence: string | undefined;
  let started = false;
  let finished = false;
  for await (const message of messages) {
    const event = parseSSEData(message) as AnthropicEvent | undefined;
    if (!event) continue;
    switch (event.type) {
      case 'message_start':
        started = true;
        usage = { ...usage, ...usageFromAnthropic(event.message?.usage) };
        yield { type: 'start', id: event.message?.id ?? 'msg_stream', model: event.message?.model ?? '', usage };
        break;
      case 'content_block_start':
        if (event.content_block?.type === 'tool_use' && isAnswerTool(event.content_block.name)) {
          const answer = { tool: event.content_block.name!, buffered: '' };
          answerBlocks.set(event.index ?? 0, answer);
          const input = event.content_block.input;
          if (input && typeof input === 'object' && Object.keys(input).length > 0) answer.buffered = JSON.stringify(input);
        } else if (event.content_block?.type === 'tool_use') {
          const toolIndex = toolIndexOfBlock.size;
          toolIndexOfBlock.set(event.index ?? 0, toolIndex);
          yield { type: 'tool_call_start', index: toolIndex, id: event.content_block.id ?? `toolu_${toolIndex}`, name: event.content_block.name ?? '' };
          // Anthropic starts with `input: {}` and streams the JSON; a compatible server may send it whole here instead.
          const input = event.content_block.input;
          if (input && typeof input === 'object' && Object.keys(input).length > 0) {
            toolHasArguments.add(toolIndex);
            yield { type: 'tool_call_delta', index: toolIndex, argumentsDelta: JSON.stringify(input) };
          }
        } else if (event.content_block?.type === 'text' && event.content_block.text) {
          yield { type: 'text_delta', text: event.content_block.text };
        }
        break;
      case 'content_block_delta': {
        const delta = event.delta;
        if (delta?.type === 'text_delta' && delta.text) yield { type: 'text_delta', text: delta.text };
        else if (delta?.type === 'input_json_delta' && delta.partial_json && answerBlocks.has(event.index ?? 0)) {
          const answer = answerBlocks.get(event.index ?? 0)!;
          if (answer.tool === JSON_VALUE_TOOL) answer.buffered += delta.partial_json;
          else yield { type: 'text_delta', text: delta.partial_json };
        } else if (delta?.type === 'input_json_delta' && delta.partial_json) {
          const index = toolIndexOfBlock.get(event.index ?? 0);
          if (index !== undefined) {
            toolHasArguments.add(index);
            yield { type: 'tool_call_delta', index, argumentsDelta: delta.partial_json };
          }
        } else if (delta?.type === 'thinking_delta' && delta.thinking) yield { type: 'reasoning_delta', text: delta.thinking };
        else if (delta?.type === 'signature_delta' && delta.signature) yield { type: 'reasoning_delta', text: '', signature: delta.signature };
        break;
      }
      case 'content_block_stop': {
        const answer = answerBlocks.get(event.index ?? 0);
        if (answer && (answer.tool === JSON_VALUE_TOOL || answer.buffered)) yield { type: 'text_delta', text: answerText(answer.tool, safeParse(answer.buffered)) };
        const index = toolIndexOfBlock.get(event.index ?? 0);
        if (index === undefined) break;
        // A tool called with no arguments: OpenAI clients parse the arguments string, and "" is not JSON.
        if (!toolHasArguments.has(index)) yield { type: 'tool_call_delta', index, argumentsDelta: '{}' };
        yield { type: 'tool_call_end', index };
        break;
      }
      case 'message_delta':
        if (event.delta?.stop_reason) stopReason = stopReasonFromAnthropic(event.delta.stop_reason);
        if (event.delta?.stop_sequence) stopSequence = event.delta.stop_sequence;
        usage = { ...usage, ...usageFromAnthropic(event.usage) };
        break;
      case 'message_stop':
        finished = true;
        break;
      case 'error':
        throw new UpstreamError('anthropic', `Upstream stream error (${event.error?.type ?? 'error'}): ${event.error?.message ?? 'unknown'}`, {
          retryable: event.error?.type === 'overloaded_error' || event.error?.type === 'api_error', upstreamStatus: 502,
        });
    }
  }
  if (!started) throw new UpstreamError('anthropic', 'Upstream stream ended before message_start', { retryable: true });
  if (!finished) throw new UpstreamError('anthropic', 'Upstream stream ended before message_stop', { retryable: false, upstreamStatus: 502 });
  // Stopped to call only the answer tool: the answer is complete.
  if (stopReason === 'tool_calls' && toolIndexOfBlock.size === 0 && answerBlocks.size > 0) stopReason = 'stop';
  yield { type: 'finish', stopReason, ...(stopSequence ? { stopSequence } : {}), usage: { ...usage, inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 } };
}

function safeParse(json: string): unknown {
  try {
    return json.trim() === '' ? {} : JSON.parse(json);
  } catch {
    return undefined;
  }
}

/** Canonical events → Anthropic's event sequence, with `event:` names, as the Anthropic SDK expects them. */
export async function* encodeAnthropicStream(events: AsyncIterable<StreamEvent>): AsyncGenerator<string> {
  let nextBlock = 0;
  let openBlock: { index: number; kind: 'text' | 'tool' | 'thinking' } | undefined;
  const blockOfTool = new Map<number, number>();
  const send = (type: string, data: Record<string, unknown>) => sseMessage({ type, ...data }, type);
  function* close(): Generator<string> {
    if (openBlock) yield send('content_block_stop', { index: openBlock.index });
    openBlock = undefined;
  }
  function* open(kind: 'text' | 'thinking'): Generator<string> {
    if (openBlock?.kind === kind) return;
    yield* close();
    openBlock = { index: nextBlock++, kind };
    yield send('content_block_start', { index: openBlock.index, content_block: kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' } });
  }
  for await (const event of events) {
    switch (event.type) {
      case 'start':
        yield send('message_start', {
          message: {
            id: anthropicMessageId(event.id), type: 'message', role: 'assistant', model: event.model, content: [],
            stop_reason: null, stop_sequence: null, usage: usageToAnthropic(event.usage ?? {}),
          },
        });
        break;
      case 'text_delta':
        yield* open('text');
        yield send('content_block_delta', { index: openBlock!.index, delta: { type: 'text_delta', text: event.text } });
        break;
      case 'reasoning_delta':
        yield* open('thinking');
        if (event.text) yield send('content_block_delta', { index: openBlock!.index, delta: { type: 'thinking_delta', thinking: event.text } });
        if (event.signature) yield send('content_block_delta', { index: openBlock!.index, delta: { type: 'signature_delta', signature: event.signature } });
        break;
      case 'tool_call_start':
        yield* close();
        openBlock = { index: nextBlock++, kind: 'tool' };
        blockOfTool.set(event.index, openBlock.index);
        yield send('content_block_start', { index: openBlock.index, content_block: { type: 'tool_use', id: anthropicToolId(event.id), name: event.name, input: {} } });
        break;
      case 'tool_call_delta': {
        const index = blockOfTool.get(event.index);
        if (index !== undefined) yield send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: event.argumentsDelta } });
        break;
      }
      case 'tool_call_end':
        if (openBlock?.index === blockOfTool.get(event.index)) yield* close();
        break;
      case 'finish':
        yield* close();
        yield send('message_delta', { delta: { stop_reason: stopReasonToAnthropic(event.stopReason, event.stopSequence), stop_sequence: event.stopSequence ?? null }, usage: usageToAnthropic(event.usage) });
        yield send('message_stop', {});
        break;
    }
  }
}

export function tapAnthropicStreamMessage(message: SSEMessage): PassthroughTap {
  const event = parseSSEData(message) as AnthropicEvent | undefined;
  if (!event) return { forward: true };
  switch (event.type) {
    case 'message_start':
      return { forward: true, usage: usageFromAnthropic(event.message?.usage) };
    case 'message_delta':
      return { forward: true, usage: usageFromAnthropic(event.usage) };
    case 'content_block_delta':
    case 'content_block_start':
      return { forward: true, content: event.type === 'content_block_delta' || event.content_block?.type === 'tool_use' };
    case 'error':
      return { forward: true, error: `${event.error?.type ?? 'error'}: ${event.error?.message ?? ''}` };
    default:
      return { forward: true };
  }
}
