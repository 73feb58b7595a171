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
  const decoder = new TextDecoder();
  const pending: SSEMessage[] = [];
  let tooLarge = false;
  const parser = createParser({
    onEvent: (message) => pending.push(message),
    onError: (error) => void (error.type === 'max-buffer-size-exceeded' && (tooLarge = true)),
    maxBufferSize: MAX_SSE_EVENT_BYTES,
  });
  for await (const chunk of source) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (tooLarge) throw new Error(`an event in the stream is larger than ${MAX_SSE_EVENT_BYTES / 1024 / 1024} MiB (or never ends)`);
    while (pending.length > 0) yield pending.shift()!;
  }
  parser.feed(decoder.decode());
  parser.reset({ consume: true });
  while (pending.length > 0) yield pending.shift()!;
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
