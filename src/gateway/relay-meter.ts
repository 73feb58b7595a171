import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { WireFormat } from '../core/index.js';
import type { StreamEvent, Usage } from '../formats/canonical.js';
import { codecs } from '../formats/index.js';
import { MAX_SSE_EVENT_BYTES } from '../formats/sse.js';
import type { ReceiptPayload } from '../ledger/index.js';
import { estimateTextTokens, tokenWeightedLength } from '../pipeline/token-estimate.js';

/** A complete answer larger than this is relayed but not parsed (its output then measures as nothing). */
const MAX_METERED_BODY_BYTES = 16 * 1024 * 1024;

/** Usage as a receipt states it: `input` includes `cached`, so cached is at most input (a receipt with more is malformed). */
export const receiptUsage = (usage: Partial<Usage>): ReceiptPayload['usage'] => {
  const input = usage.inputTokens ?? 0;
  return { input, output: usage.outputTokens ?? 0, cached: Math.min(usage.cachedInputTokens ?? 0, input) };
};

/** What this node measured on an answer it relayed from a peer. */
export interface RelayMeasurement {
  /** The usage the answer itself reports (its usage chunk or field): written by the peer, so only a cross-check. */
  reported?: ReceiptPayload['usage'];
  /** Output tokens estimated from the text, reasoning and tool calls relayed (not from the bytes of the framing). */
  outputTokens: number;
  /** Reasoning tokens the answer reports (a part of its output tokens), shown or not. */
  reasoningTokens?: number;
}

/** SSE messages handed from the parser's callback to the format's stream decoder, which pulls them. */
class MessageQueue implements AsyncIterable<EventSourceMessage> {
  readonly #items: EventSourceMessage[] = [];
  #closed = false;
  #wake: (() => void) | undefined;

  push(message: EventSourceMessage): void {
    this.#items.push(message);
    this.#notify();
  }

  close(): void {
    this.#closed = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<EventSourceMessage> {
    for (;;) {
      const next = this.#items.shift();
      if (next) yield next;
      else if (this.#closed) return;
      else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

/** Output of one decoded stream event, in `tokenWeightedLength` units. */
function eventLength(event: StreamEvent): number {
  switch (event.type) {
    case 'text_delta':
    case 'reasoning_delta':
      return tokenWeightedLength(event.text);
    case 'tool_call_start':
      return event.name.length;
    case 'tool_call_delta':
      return tokenWeightedLength(event.argumentsDelta);
    default:
      return 0;
  }
}

/**
 * Measures an answer this node relays from a peer, in the client's format: the usage it reports, and the output it
 * really carried — a stream decoded event by event with the format's own decoder, a complete answer parsed at its
 * end. The receipt's claim is bounded by this measurement (ledger/usage-bound.ts).
 *
 * `deferred`: a stream's chunks are only kept as they pass, and decoded when `result()` is asked for — by a caller
 * that may never ask (the serving node measures what it sent only when its pipeline had to estimate the usage). Past
 * MAX_METERED_BODY_BYTES kept, the meter decodes what it holds and goes on as an eager one, so the measurement is
 * the same either way and memory stays bounded.
 */
export function relayMeter(format: WireFormat, stream: boolean, { deferred = false } = {}) {
  const codec = codecs[format];
  let usage: Partial<Usage> = {};
  let outputLength = 0;
  const decoder = new TextDecoder();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let overflow = false;
  const queue = new MessageQueue();
  // Bounded like every SSE parse here: a peer whose stream never ends an event is not metered beyond it.
  const parser = stream
    ? createParser({
        onEvent: (message) => {
          usage = { ...usage, ...codec.tapStreamMessage(message, true).usage };
          queue.push(message);
        },
        onError: () => void (overflow = true),
        maxBufferSize: MAX_SSE_EVENT_BYTES,
      })
    : undefined;
  const counted = parser
    ? (async () => {
        try {
          for await (const event of codec.decodeStream(queue)) outputLength += eventLength(event);
        } catch {
          // An error event or a stream that does not decode further: what was relayed up to it is what counts.
        }
      })()
    : undefined;

  const parse = (chunk: Uint8Array): void => {
    if (!overflow) parser!.feed(decoder.decode(chunk, { stream: true }));
  };
  // A deferred stream's chunks, until they are decoded (then undefined: later chunks are decoded as they come).
  let held: Uint8Array[] | undefined = parser && deferred ? [] : undefined;
  const decodeHeld = (): void => {
    if (!held) return;
    const chunks = held;
    held = undefined;
    for (const chunk of chunks) parse(chunk);
  };

  const completeAnswer = (): void => {
    if (size > MAX_METERED_BODY_BYTES) return;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return;
    }
    usage = codec.usageFromResponse(body) ?? {};
    try {
      for (const part of codec.responseToCanonical(body).content) {
        outputLength += part.type === 'tool_call' ? part.name.length + tokenWeightedLength(part.arguments) : tokenWeightedLength(part.text);
      }
    } catch {
      // Not a chat answer (embeddings, a token count): no output to measure.
    }
  };

  return {
    feed(chunk: Uint8Array): void {
      if (parser && held) {
        held.push(chunk);
        size += chunk.byteLength;
        if (size > MAX_METERED_BODY_BYTES) decodeHeld();
      } else if (parser) {
        parse(chunk);
      } else if (size <= MAX_METERED_BODY_BYTES) {
        size += chunk.byteLength;
        chunks.push(chunk);
      }
    },
    /** Once the answer ended: what was measured. */
    async result(): Promise<RelayMeasurement> {
      if (counted) {
        decodeHeld();
        queue.close();
        await counted;
      } else {
        completeAnswer();
      }
      return {
        ...(usage.inputTokens === undefined ? {} : { reported: receiptUsage(usage) }),
        outputTokens: estimateTextTokens(outputLength),
        ...(usage.reasoningTokens ? { reasoningTokens: usage.reasoningTokens } : {}),
      };
    },
  };
}
