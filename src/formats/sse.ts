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
 * As `parseSSE`, but the messages completed by one chunk of the source come together: what arrived in one read can
 * leave in one write (a pass-through stream), while messages that arrived apart stay apart — the gaps between them
 * are the model's, not the gateway's to close. Never yields an empty batch.
 */
export async function* parseSSEBatches(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<SSEMessage[]> {
  const decoder = new TextDecoder();
  let pending: SSEMessage[] = [];
  let tooLarge = false;
  const parser = createParser({
    onEvent: (message) => pending.push(message),
    onError: (error) => void (error.type === 'max-buffer-size-exceeded' && (tooLarge = true)),
    maxBufferSize: MAX_SSE_EVENT_BYTES,
  });
  for await (const chunk of source) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (tooLarge) throw new Error(`an event in the stream is larger than ${MAX_SSE_EVENT_BYTES / 1024 / 1024} MiB (or never ends)`);
    if (pending.length > 0) {
      const batch = pending;
      pending = [];
      yield batch;
    }
  }
  parser.feed(decoder.decode());
  parser.reset({ consume: true });
  if (pending.length > 0) yield pending;
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
