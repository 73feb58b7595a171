import type { StreamEvent, Usage } from '../formats/canonical.js';
import type { FormatCodec } from '../formats/codec.js';
import type { SSEMessage } from '../formats/sse.js';
import { UpstreamError } from '../errors/index.js';

/** What one upstream attempt measured while its response streamed through. */
export interface Meter {
  startedAt: number;
  usage?: Partial<Usage>;
  ttftMs?: number;
  /** Characters of generated text/arguments, for estimating usage a provider did not report. */
  outputChars: number;
  /** An error the upstream reported inside its stream after content had been forwarded. */
  error?: string;
}

export const newMeter = (startedAt: number): Meter => ({ startedAt, outputChars: 0 });

function markContent(meter: Meter): void {
  if (meter.ttftMs === undefined) meter.ttftMs = performance.now() - meter.startedAt;
}

/** Re-frames one SSE message exactly as received (event name and data lines), for pass-through. */
export function frameSSE(message: SSEMessage): string {
  const data = message.data.includes('\n') ? message.data.split('\n').map((line) => `data: ${line}`).join('\n') : `data: ${message.data}`;
  return message.event ? `event: ${message.event}\n${data}\n\n` : `${data}\n\n`;
}

/**
 * Same format in and out: every upstream message goes to the client unchanged, as soon as it arrives. The codec's
 * tap only reads usage and content markers; the one message it may hold back is a usage chunk the gateway asked for
 * on its own account (OpenAI `stream_options.include_usage` when the client did not).
 */
export async function* passthroughStream(
  messages: AsyncIterable<SSEMessage>, codec: FormatCodec, clientWantsUsage: boolean, meter: Meter, upstream: string,
): AsyncGenerator<string> {
  let yielded = false;
  for await (const message of messages) {
    const tap = codec.tapStreamMessage(message, clientWantsUsage);
    if (tap.usage) meter.usage = { ...meter.usage, ...tap.usage };
    if (tap.content) {
      markContent(meter);
      // Only used if the provider reports no usage: the JSON framing makes it an overestimate, the safe side for limits.
      meter.outputChars += message.data.length;
    }
    if (tap.error) {
      meter.error = tap.error;
      // Nothing reached the client yet: let the router fail over. Otherwise the upstream's error event (already in
      // the client's format) is forwarded as it is.
      if (!yielded) throw new UpstreamError(upstream, `Provider ${upstream} sent an error in its stream: ${tap.error}`, { retryable: true });
    }
    if (tap.forward) {
      yielded = true;
      yield frameSSE(message);
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

/**
 * Pulls the first item of a stream before anything is sent to the client, so that a failure up to that point can
 * still fail over. Returns a generator that yields that item and then the rest.
 */
export async function primeStream<T>(source: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  const first = await source.next();
  return (async function* () {
    try {
      if (first.done) return;
      yield first.value;
      yield* source;
    } finally {
      await source.return(undefined);
    }
  })();
}

/** Runs `onEnd` exactly once when a stream ends for any reason (done, error, or the consumer stopping early). */
export async function* onStreamEnd<T>(source: AsyncGenerator<T>, onEnd: (error: unknown, completed: boolean) => void): AsyncGenerator<T> {
  let error: unknown;
  let completed = false;
  try {
    yield* source;
    completed = true;
  } catch (err) {
    error = err;
    throw err;
  } finally {
    onEnd(error, completed);
  }
}
