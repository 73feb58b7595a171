import type { StreamEvent, Usage } from '../formats/canonical.js';
import type { FormatCodec } from '../formats/codec.js';
import { SSEDecoder, type SSEMessage } from '../formats/sse.js';
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
 * that arrived in one read of the upstream leave in one piece (one write to the client, not one per event) — but for
 * the first event, which leaves on its own, ahead of the rest of its read. The codec's
 * tap only reads usage and content markers; the one message it may hold back is a usage chunk the gateway asked for
 * on its own account (OpenAI `stream_options.include_usage` when the client did not). The upstream's bytes are decoded
 * here, in the same loop (no generator of their own in between: each layer costs promises per chunk and per stream).
 */
export async function* passthroughStream(
  source: AsyncIterable<Uint8Array | string>, codec: FormatCodec, clientWantsUsage: boolean, meter: Meter, upstream: string,
): AsyncGenerator<string> {
  const decoder = new SSEDecoder();
  let yielded = false;
  /** The client's piece of messages `from` to `to` of what one read completed ('' when it holds nothing to send). */
  const relay = (batch: readonly SSEMessage[], from = 0, to = batch.length): string => {
    let out = '';
    for (let i = from; i < to; i++) {
      const message = batch[i]!;
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
    return out;
  };
  for await (const chunk of source) {
    const batch = decoder.push(chunk);
    let from = 0;
    // Until the first event is out, messages are relayed one at a time: the first token leaves as soon as it is
    // framed, not after every message that arrived with it was tapped (a short answer arrives in one read).
    while (!yielded && from < batch.length) {
      const first = relay(batch, from, from + 1);
      from += 1;
      if (first !== '') {
        yielded = true;
        yield first;
      }
    }
    const out = relay(batch, from);
    if (out !== '') {
      yielded = true;
      yield out;
    }
  }
  const out = relay(decoder.end());
  if (out !== '') yield out;
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

type EndHook = (error: unknown, completed: boolean) => void;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * A stream relayed to its consumer with, optionally, its first item already pulled (`primeStream`), and the hooks that
 * want to hear of its end (`onStreamEnd`). Hooks added before the first read share this one object instead of a
 * wrapper each: a streamed response carries several (the provider slot, the request's settlement, the cache), and every
 * wrapper costs a promise and a hop per event, and its closures per stream.
 */
class RelayedStream<T> implements AsyncGenerator<T> {
  private pending: IteratorResult<T> | undefined;
  private readonly hooks: EndHook[] = [];
  private started = false;
  private closed = false;
  private ended = false;

  constructor(private readonly source: AsyncGenerator<T>, first?: IteratorResult<T>) {
    this.pending = first;
  }

  /** Adds `hook`, while nothing was read or closed (later, a wrapper is needed to see the end from where it is). */
  addHook(hook: EndHook): boolean {
    if (this.started || this.closed) return false;
    this.hooks.push(hook);
    return true;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.closed || this.ended) return Promise.resolve(DONE);
    this.started = true;
    const first = this.pending;
    if (first) {
      this.pending = undefined;
      return new Promise((resolve) => resolve(this.onResult(first)));
    }
    return this.source.next().then(this.onResult, this.onError);
  }

  private readonly onResult = (result: IteratorResult<T>): IteratorResult<T> => {
    if (result.done) this.end(undefined, true);
    return result;
  };

  private readonly onError = (err: unknown): never => {
    this.end(err, false);
    throw err;
  };

  async return(value?: unknown): Promise<IteratorResult<T>> {
    if (!this.closed) {
      this.closed = true;
      this.pending = undefined;
      try {
        await this.source.return(value as T);
      } finally {
        this.end(undefined, false);
      }
    }
    return { done: true, value: value as T };
  }

  async throw(err: unknown): Promise<IteratorResult<T>> {
    await this.return();
    throw err;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  /** Every hook, once, in the order they were added (a failing hook does not keep the others from hearing of it). */
  private end(error: unknown, completed: boolean): void {
    if (this.ended) return;
    this.ended = true;
    let failure: { err: unknown } | undefined;
    for (const hook of this.hooks) {
      try {
        hook(error, completed);
      } catch (err) {
        failure ??= { err };
      }
    }
    if (failure) throw failure.err;
  }
}

/**
 * Pulls the first item of a stream before anything is sent to the client, so that a failure up to that point can
 * still fail over. Returns an iterator that yields that item and then the rest; closing it closes the source.
 */
export async function primeStream<T>(source: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  return new RelayedStream(source, await source.next());
}

/**
 * Runs `onEnd` exactly once when a stream ends for any reason: done, error, or the consumer closing it — also when
 * it is closed before it was ever read (a native async generator that never started skips its `finally` blocks, which
 * would leak the request's slot, quota reservation and record). On a stream not read yet from `primeStream` or
 * `onStreamEnd`, the hook joins that stream's own instead of wrapping it.
 */
export function onStreamEnd<T>(source: AsyncGenerator<T>, onEnd: EndHook): AsyncGenerator<T> {
  if (source instanceof RelayedStream && source.addHook(onEnd)) return source;
  const relayed = new RelayedStream(source);
  relayed.addHook(onEnd);
  return relayed;
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
