import type { EventStreamCodec } from '@smithy/eventstream-codec';
import type { SSEMessage } from '../sse.js';

/**
 * AWS event-stream binary framing (application/vnd.amazon.eventstream), as ConverseStream sends it: each message is
 * a 4-byte total length, a 4-byte headers length, a prelude CRC, headers, payload and a message CRC
 * (https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream). Messages are
 * cut out of the byte stream as soon as each is complete and decoded (CRCs checked) by @smithy/eventstream-codec.
 */

/** Largest single message accepted; a length prefix beyond it is a corrupt or hostile stream, not a big event. */
export const MAX_EVENT_MESSAGE_BYTES = 16 * 1024 * 1024;
const PRELUDE_BYTES = 12;

/** The codec and the UTF-8 helpers, loaded with the first Bedrock stream (a node without Bedrock never loads them). */
let smithy: Promise<{ codec: EventStreamCodec; toUtf8: (bytes: Uint8Array) => string }> | undefined;
const loadSmithy = async () => {
  const [{ EventStreamCodec }, { fromUtf8, toUtf8 }] = await Promise.all([import('@smithy/eventstream-codec'), import('@smithy/util-utf8')]);
  return { codec: new EventStreamCodec(toUtf8, fromUtf8), toUtf8 };
};

/** The raw messages of an event stream, each as soon as its last byte arrived; nothing else is held. */
export async function* splitEventStream(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const chunk of source) {
    buffer = buffer.length === 0 ? chunk : concat(buffer, chunk);
    while (buffer.length >= 4) {
      const total = new DataView(buffer.buffer, buffer.byteOffset, 4).getUint32(0, false);
      if (total < PRELUDE_BYTES + 4 || total > MAX_EVENT_MESSAGE_BYTES) throw new Error(`event-stream message length ${total} is out of bounds`);
      if (buffer.length < total) break;
      yield buffer.subarray(0, total);
      buffer = buffer.subarray(total);
    }
  }
  if (buffer.length > 0) throw new Error(`event stream ended inside a message (${buffer.length} bytes left over)`);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

const headerString = (headers: Record<string, { type: string; value: unknown }>, name: string): string | undefined => {
  const header = headers[name];
  return header && header.type === 'string' ? (header.value as string) : undefined;
};

/**
 * An event stream as stream messages: an event as `{ event: <:event-type>, data: <payload> }`, an exception as
 * `{ event: <:exception-type> (e.g. "throttlingException"), data: <payload> }`, and an error message as
 * `{ event: "error", data: {"code", "message"} }` (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html).
 */
export async function* decodeEventStream(source: AsyncIterable<Uint8Array>): AsyncGenerator<SSEMessage> {
  const { codec, toUtf8 } = await (smithy ??= loadSmithy());
  for await (const raw of splitEventStream(source)) {
    const message = codec.decode(raw);
    const headers = message.headers as Record<string, { type: string; value: unknown }>;
    const type = headerString(headers, ':message-type') ?? 'event';
    const data = toUtf8(message.body);
    if (type === 'event') yield { event: headerString(headers, ':event-type') ?? '', data, id: undefined };
    else if (type === 'exception') yield { event: headerString(headers, ':exception-type') ?? 'unknownException', data, id: undefined };
    else yield { event: 'error', data: JSON.stringify({ code: headerString(headers, ':error-code') ?? 'error', message: headerString(headers, ':error-message') ?? data }), id: undefined };
  }
}
