import { UpstreamError } from '../../errors/index.js';
import type { StopReason, StreamEvent, Usage } from '../canonical.js';
import { parseSSEData, type SSEMessage } from '../sse.js';
import { stopReasonFromBedrock, usageFromBedrock, type BedrockUsage } from './response.js';

/**
 * ConverseStream events (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html)
 * → canonical events. The events arrive as stream messages named by their event type (see event-stream.ts):
 * messageStart, contentBlockStart (tool use only; text blocks start with their first delta), contentBlockDelta,
 * contentBlockStop, messageStop (the stop reason), then metadata (usage) — so `finish` waits for metadata.
 */

interface BedrockStreamEvent {
  role?: string;
  contentBlockIndex?: number;
  start?: { toolUse?: { toolUseId?: string; name?: string } };
  delta?: { text?: string; toolUse?: { input?: string }; reasoningContent?: { text?: string; signature?: string } };
  stopReason?: string;
  usage?: BedrockUsage;
  message?: string;
  code?: string;
}

/** Exceptions worth another attempt elsewhere (throttling, capacity, a model or service hiccup). */
const RETRYABLE_EXCEPTIONS = new Set(['throttlingException', 'serviceUnavailableException', 'internalServerException', 'modelStreamErrorException', 'modelTimeoutException']);

export async function* decodeBedrockStream(messages: AsyncIterable<SSEMessage>): AsyncGenerator<StreamEvent> {
  const toolIndexOfBlock = new Map<number, number>();
  const toolHasArguments = new Set<number>();
  let stopReason: StopReason = 'stop';
  let usage: Usage | undefined;
  let started = false;
  let stopped = false;
  const ensureStarted = function* (): Generator<StreamEvent> {
    if (started) return;
    started = true;
    yield { type: 'start', id: 'bedrock-stream', model: '' };
  };
  for await (const message of messages) {
    const event = (parseSSEData(message) ?? {}) as BedrockStreamEvent;
    switch (message.event) {
      case 'messageStart':
        yield* ensureStarted();
        break;
      case 'contentBlockStart': {
        yield* ensureStarted();
        const tool = event.start?.toolUse;
        if (!tool) break;
        const index = toolIndexOfBlock.size;
        toolIndexOfBlock.set(event.contentBlockIndex ?? 0, index);
        yield { type: 'tool_call_start', index, id: tool.toolUseId ?? `tooluse_${index}`, name: tool.name ?? '' };
        break;
      }
      case 'contentBlockDelta': {
        yield* ensureStarted();
        const delta = event.delta;
        if (delta?.text) yield { type: 'text_delta', text: delta.text };
        else if (delta?.toolUse?.input) {
          const index = toolIndexOfBlock.get(event.contentBlockIndex ?? 0);
          if (index !== undefined) {
            toolHasArguments.add(index);
            yield { type: 'tool_call_delta', index, argumentsDelta: delta.toolUse.input };
          }
        } else if (delta?.reasoningContent?.text) yield { type: 'reasoning_delta', text: delta.reasoningContent.text };
        else if (delta?.reasoningContent?.signature) yield { type: 'reasoning_delta', text: '', signature: delta.reasoningContent.signature };
        break;
      }
      case 'contentBlockStop': {
        const index = toolIndexOfBlock.get(event.contentBlockIndex ?? 0);
        if (index === undefined) break;
        // A tool called with no arguments: OpenAI clients parse the arguments string, and "" is not JSON.
        if (!toolHasArguments.has(index)) yield { type: 'tool_call_delta', index, argumentsDelta: '{}' };
        yield { type: 'tool_call_end', index };
        break;
      }
      case 'messageStop':
        stopped = true;
        stopReason = stopReasonFromBedrock(event.stopReason);
        break;
      case 'metadata':
        usage = usageFromBedrock(event.usage);
        break;
      default:
        if (message.event === 'error' || message.event?.endsWith('Exception')) {
          const name = message.event === 'error' ? event.code ?? 'error' : message.event;
          throw new UpstreamError('bedrock', `Bedrock stream error (${name}): ${event.message ?? 'unknown'}`, {
            retryable: RETRYABLE_EXCEPTIONS.has(name), upstreamStatus: name === 'throttlingException' ? 429 : 502,
          });
        }
    }
  }
  if (!started) throw new UpstreamError('bedrock', 'Bedrock stream ended before messageStart', { retryable: true });
  if (!stopped) throw new UpstreamError('bedrock', 'Bedrock stream ended before messageStop', { retryable: false, upstreamStatus: 502 });
  yield { type: 'finish', stopReason, usage: usage ?? { inputTokens: 0, outputTokens: 0 } };
}
