import type { StreamEvent, Usage } from '../formats/canonical.js';
import type { FormatCodec } from '../formats/codec.js';
import type { SSEMessage } from '../formats/sse.js';
import { UpstreamError } from '../errors/index.js';
import type { KeyUse } from '../providers/index.js';

/** What one upstream attempt measured while its response streamed through. */
export interface Meter {
  startedAt: number;
  usage?: Partial<Usage>;
  ttftMs?: number;
  /** Characters of generated text/arguments, for estimating usage a provider did not report. */
  outputChars: number;
  /** An error the upstream reported inside its stream after content had been forwarded. */
  error?: string;
  /** The provider keys the attempt used, by label (providers with several keys), for its record. */
  keys?: KeyUse[];
}

export const newMeter = (startedAt: number): Meter => ({ startedAt, outputChars: 0, keys: [] });

function markContent(meter: Meter): void {
  if (meter.ttftMs === undefined) meter.ttftMs = performance.now() - meter.startedAt;
}

/** Re-frames one SSE message exactly as received (event name and data lines), for pass-through. */
export function frameSSE(message: SSEMessage): string {
  const data = message.data.includes('\n') ? message.data.split('\n').map((line) => `data: ${line}`).join('\n') : `data: ${message.data}`;
  return message.event ? `event: ${message.event}\n${data}\n\n` : `${data}\n\n`;
}

/**
 * Same format in and out: every upstream message goes to the client unchanged, as soon as it arrives, and the messages
 * that arrived in one read of the upstream leave in one piece (one write to the client, not one per event). The codec's
 * tap only reads usage and content markers; the one message it may hold back is a usage chunk the gateway asked for
 * on its own account (OpenAI `stream_options.include_usage` when the client did not).
 */
export async function* passthroughStream(
  batches: AsyncIterable<SSEMessage[]>, codec: FormatCodec, clientWantsUsage: boolean, meter: Meter, upstream: string,
): AsyncGenerator<string> {
  let yielded = false;
  for await (const batch of batches) {
    let out = '';
    for (const message of batch) {
      const tap = codec.tapStreamMessage(message, clientWantsUsage);
      if (tap.usage) meter.usage = { ...meter.usage, ...tap.usage };
      if (tap.content) {
        markContent(meter);
        // Only used if the provider reports no usage: the JSON framing makes it an overestimate, the safe side for limits.
        meter.outputChars += message.data.length;
      }
      if (tap.error) {
        meter.error = tap.error;
        // Nothing reached (or is about to reach) the client yet: let the router fail over. Otherwise the upstream's
        // error event (already in the client's format) is forwarded as it is.
        if (!yielded && out === '') throw new UpstreamError(upstream, `Provider ${upstream} sent an error in its stream: ${tap.error}`, { retryable: true });
      }
      if (tap.forward) out += frameSSE(message);
    }
    if (out !== '') {
      yielded = true;
      yield out;
    }
  }
}

/** Taps canonical events (translated streams) for usage, time to first token and output size. */
export async function* meterEvents(events: AsyncIterable<StreamEvent>, meter: Meter): AsyncGenerator<StreamEvent> {
  for await (const event of events) {
    switch (event.type) {
      case 'start':
        if (event.usage) meter.usage = { ...meter.usage, ...event.usage };
        break;
      case 'text_delta':
      case 'reasoning_delta':
        markContent(meter);
        meter.outputChars += event.text.length;
        break;
      case 'tool_call_start':
        markContent(meter);
        meter.outputChars += event.name.length;
        break;
      case 'tool_call_delta':
        meter.outputChars += event.argumentsDelta.length;
        break;
      case 'finish':
        meter.usage = { ...meter.usage, ...event.usage };
        break;
    }
    yield event;
  }
}

/** Leaves out reasoning deltas a client asked not to see (after the meter, so their tokens still count). */
export async function* withReasoningText(events: AsyncIterable<StreamEvent>, keep: boolean): AsyncGenerator<StreamEvent> {
  for await (const event of events) {
    if (keep || event.type !== 'reasoning_delta') yield event;
    // The signature stays: it is not the reasoning's text, and a provider needs it back to continue (Anthropic's
    // thinking before a tool call, a Responses client's encrypted_content).
    else if (event.signature) yield { type: 'reasoning_delta', text: '', signature: event.signature };
  }
}

/**
 * Gives a translated stream's `start` event an input-token estimate when the provider reports none there (OpenAI
 * formats report usage only at the end). Anthropic clients read the input count from `message_start` — real
 * Anthropic puts it there, and LangChain reads only that event — and the exact count follows in `message_delta`.
 * Applied after the meter, so the estimate is never taken for the provider's report.
 */
export async function* withStartUsageEstimate(events: AsyncIterable<StreamEvent>, estimateInputTokens: () => number): AsyncGenerator<StreamEvent> {
  for await (const event of events) {
    if (event.type === 'start' && event.usage?.inputTokens === undefined) yield { ...event, usage: { ...event.usage, inputTokens: estimateInputTokens() } };
    else yield event;
  }
}

/**
 * Pulls the first item of a stream before anything is sent to the client, so that a failure up to that point can
 * still fail over. Returns an iterator that yields that item and then the rest; closing it closes the source.
 */
export async function primeStream<T>(source: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  let pending: IteratorResult<T> | undefined = await source.next();
  return iterator({
    next: async () => {
      if (pending) {
        const result = pending;
        pending = undefined;
        return result;
      }
      return source.next();
    },
    return: async (value) => {
      pending = undefined;
      await source.return(value);
    },
  });
}

/**
 * Runs `onEnd` exactly once when a stream ends for any reason: done, error, or the consumer closing it — also when
 * it is closed before it was ever read (a native async generator that never started skips its `finally` blocks, which
 * would leak the request's slot, quota reservation and record).
 */
export function onStreamEnd<T>(source: AsyncGenerator<T>, onEnd: (error: unknown, completed: boolean) => void): AsyncGenerator<T> {
  let ended = false;
  const end = (error: unknown, completed: boolean) => {
    if (ended) return;
    ended = true;
    onEnd(error, completed);
  };
  return iterator({
    next: async () => {
      if (ended) return { done: true, value: undefined };
      let result: IteratorResult<T>;
      try {
        result = await source.next();
      } catch (err) {
        end(err, false);
        throw err;
      }
      if (result.done) end(undefined, true);
      return result;
    },
    return: async (value) => {
      try {
        await source.return(value);
      } finally {
        end(undefined, false);
      }
    },
  });
}

/**
 * An AsyncGenerator-compatible iterator from `next` and `return` (cleanup that runs whether or not iteration
 * started); `throw` closes it and rethrows.
 */
export function iterator<T>(impl: { next: () => Promise<IteratorResult<T>>; return: (value?: unknown) => Promise<void> }): AsyncGenerator<T> {
  let closed = false;
  const close = async (value?: unknown) => {
    if (closed) return;
    closed = true;
    await impl.return(value);
  };
  const it = {
    next: () => (closed ? Promise.resolve({ done: true as const, value: undefined }) : impl.next()),
    return: async (value?: unknown) => {
      await close(value);
      return { done: true as const, value };
    },
    throw: async (err: unknown) => {
      await close();
      throw err;
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it as unknown as AsyncGenerator<T>;
}
