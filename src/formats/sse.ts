import { createParser, type EventSourceMessage } from 'eventsource-parser';

export type SSEMessage = EventSourceMessage;

/** Largest single SSE event accepted; a stream that never ends its event would otherwise be buffered without end. */
export const MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;

/**
 * Decodes a byte stream of Server-Sent Events into messages, yielding each one as soon as its terminating blank
 * line arrives (no buffering beyond the current partial event). Parsing follows the WHATWG EventSource rules via
 * `eventsource-parser`.
 */
export async function* parseSSE(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<SSEMessage> {
  for await (const batch of parseSSEBatches(source)) yield* batch;
}

/**
 * An SSE decoder fed the stream's pieces as they come: each `push` gives the messages that piece completed (possibly
 * none), `end` those the stream's end completes. For a reader that already loops over the source (a pass-through
 * stream), this is the parsing without a generator of its own between it and the source.
 */
export class SSEDecoder {
  private readonly decoder = new TextDecoder();
  private pending: SSEMessage[] = [];
  private tooLarge = false;
  private readonly parser = createParser({
    onEvent: (message) => this.pending.push(message),
    onError: (error) => void (error.type === 'max-buffer-size-exceeded' && (this.tooLarge = true)),
    maxBufferSize: MAX_SSE_EVENT_BYTES,
  });

  /** The messages `chunk` completed, in order; throws on an event larger than `MAX_SSE_EVENT_BYTES`. */
  push(chunk: Uint8Array | string): readonly SSEMessage[] {
    this.parser.feed(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
    if (this.tooLarge) throw new Error(`an event in the stream is larger than ${MAX_SSE_EVENT_BYTES / 1024 / 1024} MiB (or never ends)`);
    return this.take();
  }

  /** The messages the end of the stream completes (an event without its blank line is dropped, as EventSource does). */
  end(): readonly SSEMessage[] {
    this.parser.feed(this.decoder.decode());
    this.parser.reset({ consume: true });
    return this.take();
  }

  private take(): readonly SSEMessage[] {
    if (this.pending.length === 0) return NONE;
    const batch = this.pending;
    this.pending = [];
    return batch;
  }
}

const NONE: readonly SSEMessage[] = Object.freeze([]);

/**
 * As `parseSSE`, but the messages completed by one chunk of the source come together: what arrived in one read can
 * leave in one write, while messages that arrived apart stay apart — the gaps between them are the model's, not the
 * gateway's to close. Never yields an empty batch.
 */
export async function* parseSSEBatches(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<readonly SSEMessage[]> {
  const decoder = new SSEDecoder();
  for await (const chunk of source) {
    const batch = decoder.push(chunk);
    if (batch.length > 0) yield batch;
  }
  const last = decoder.end();
  if (last.length > 0) yield last;
}

/** Encodes one SSE message. `data` is serialised as JSON unless it is already a string. */
export function sseMessage(data: unknown, event?: string): string {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  return event ? `event: ${event}\ndata: ${payload}\n\n` : `data: ${payload}\n\n`;
}

/** Parses an SSE message's JSON data, returning undefined for non-JSON payloads such as `[DONE]`. */
export function parseSSEData(message: SSEMessage): unknown {
  const data = message.data;
  if (data === '' || data === '[DONE]') return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

const NEWLINE = 0x0a;

/**
 * How many SSE events a piece of a stream holds: each ends with a blank line, and the gateway's own framing (pass-through
 * and translated alike) ends lines with `\n` only. A piece may hold several (what arrived together leaves together).
 */
export function sseEventCount(chunk: string | Uint8Array): number {
  let count = 0;
  if (typeof chunk === 'string') {
    for (let at = chunk.indexOf('\n\n'); at >= 0; at = chunk.indexOf('\n\n', at + 2)) count++;
    return count;
  }
  for (let i = 1; i < chunk.length; i++) {
    if (chunk[i] === NEWLINE && chunk[i - 1] === NEWLINE) {
      count++;
      i++;
    }
  }
  return count;
}
