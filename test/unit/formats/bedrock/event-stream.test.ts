import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { describe, expect, it } from 'vitest';
import { decodeEventStream, splitEventStream } from '../../../../src/formats/bedrock/event-stream.js';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

function message(kind: 'event' | 'exception', type: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: kind },
      [kind === 'event' ? ':event-type' : ':exception-type']: { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe('AWS event-stream framing', () => {
  it('decodes events whatever the chunking, down to one byte at a time', async () => {
    const bytes = concat(message('event', 'messageStart', { role: 'assistant' }), message('event', 'contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'héllo' } }));
    const oneByOne = Array.from(bytes, (b) => new Uint8Array([b]));
    for (const source of [chunks(bytes), chunks(...oneByOne), chunks(bytes.subarray(0, 7), bytes.subarray(7, 90), bytes.subarray(90))]) {
      const messages = await collect(decodeEventStream(source));
      expect(messages.map((m) => m.event)).toEqual(['messageStart', 'contentBlockDelta']);
      expect(JSON.parse(messages[1]!.data)).toEqual({ contentBlockIndex: 0, delta: { text: 'héllo' } });
    }
  });

  it('yields each message as soon as it is complete, before the stream goes on', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* source(): AsyncGenerator<Uint8Array> {
      yield message('event', 'messageStart', { role: 'assistant' });
      await gate; // the next bytes come only after the first message was handed on
      yield message('event', 'messageStop', { stopReason: 'end_turn' });
    }
    const iterator = decodeEventStream(source());
    const timeout = new Promise<'buffered'>((resolve) => setTimeout(() => resolve('buffered'), 5_000).unref());
    const first = await Promise.race([iterator.next(), timeout]);
    expect(first).not.toBe('buffered');
    expect((first as IteratorResult<{ event?: string }>).value.event).toBe('messageStart');
    release();
    expect((await iterator.next()).value?.event).toBe('messageStop');
    expect((await iterator.next()).done).toBe(true);
  });

  it('names exceptions by their exception type', async () => {
    const [m] = await collect(decodeEventStream(chunks(message('exception', 'throttlingException', { message: 'slow down' }))));
    expect(m).toMatchObject({ event: 'throttlingException' });
    expect(JSON.parse(m!.data)).toEqual({ message: 'slow down' });
  });

  it('refuses a message whose checksum does not match', async () => {
    const bytes = message('event', 'messageStart', { role: 'assistant' });
    bytes[bytes.length - 6] ^= 0xff; // a payload byte
    await expect(collect(decodeEventStream(chunks(bytes)))).rejects.toThrow(/checksum/i);
  });

  it('refuses a stream that ends inside a message, and a length prefix out of bounds', async () => {
    const bytes = message('event', 'messageStart', { role: 'assistant' });
    await expect(collect(splitEventStream(chunks(bytes.subarray(0, bytes.length - 3))))).rejects.toThrow(/ended inside a message/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setUint32(0, 0x7fffffff);
    await expect(collect(splitEventStream(chunks(huge)))).rejects.toThrow(/out of bounds/);
  });
});
