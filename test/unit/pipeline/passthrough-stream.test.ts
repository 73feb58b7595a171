import { describe, expect, it } from 'vitest';
import { codecs } from '../../../src/formats/index.js';
import { parseSSE, parseSSEBatches, sseEventCount } from '../../../src/formats/sse.js';
import { newMeter, passthroughStream } from '../../../src/pipeline/streaming.js';
import { UpstreamError } from '../../../src/errors/index.js';

/** The upstream's reads, one string each, with a check of how far the consumer got before each was handed over. */
async function* reads(chunks: string[], log: string[] = []): AsyncGenerator<string> {
  for (const [i, chunk] of chunks.entries()) {
    log.push(`read ${i}`);
    yield chunk;
  }
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

const chunk = (content: string) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;
const usage = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })}\n\n`;

describe('pass-through stream', () => {
  it('sends the first event on its own, then the events of one upstream read as one piece, and events that arrived apart as separate pieces', async () => {
    const log: string[] = [];
    const meter = newMeter(performance.now());
    const upstream = [chunk('Hel') + chunk('lo') + chunk(','), chunk(' there') + chunk('!'), usage + 'data: [DONE]\n\n'];
    const pieces: string[] = [];
    for await (const piece of passthroughStream(reads(upstream, log), codecs.openai, true, meter, 'p')) {
      pieces.push(piece);
      log.push(`piece ${pieces.length - 1}`);
    }
    // The first token leaves as soon as it is framed, before the rest of its read is tapped.
    expect(pieces).toEqual([chunk('Hel'), chunk('lo') + chunk(','), upstream[1], upstream[2]]);
    // Each piece left before the next read of the upstream: nothing is held back waiting for more.
    expect(log).toEqual(['read 0', 'piece 0', 'piece 1', 'read 1', 'piece 2', 'read 2', 'piece 3']);
    expect(meter.usage).toMatchObject({ inputTokens: 3, outputTokens: 2 });
    expect(meter.ttftMs).toBeGreaterThanOrEqual(0);
  });

  it('leaves out the usage chunk the client did not ask for, within a read', async () => {
    const meter = newMeter(performance.now());
    const pieces = await collect(passthroughStream(reads([chunk('Hi') + usage + 'data: [DONE]\n\n']), codecs.openai, false, meter, 'p'));
    expect(pieces).toEqual([chunk('Hi'), 'data: [DONE]\n\n']);
    expect(meter.usage).toMatchObject({ inputTokens: 3, outputTokens: 2 });
  });

  it('fails over on an error before any event, and forwards one that follows content in the same read', async () => {
    const error = `data: ${JSON.stringify({ error: { message: 'overloaded' } })}\n\n`;
    await expect(collect(passthroughStream(reads([error]), codecs.openai, true, newMeter(0), 'p'))).rejects.toBeInstanceOf(UpstreamError);
    const meter = newMeter(0);
    expect(await collect(passthroughStream(reads([chunk('Hi') + error]), codecs.openai, true, meter, 'p'))).toEqual([chunk('Hi'), error]);
    expect(meter.error).toBe('overloaded');
  });

  it('decodes the upstream bytes itself: events split across reads and multi-byte characters split across chunks', async () => {
    const text = chunk('héllo ✓') + usage + 'data: [DONE]\n\n';
    const bytes = new TextEncoder().encode(text);
    // Cut inside the first event's é (two bytes) and inside the ✓ (three bytes).
    const cuts = [text.indexOf('é') + 1, new TextEncoder().encode(text.slice(0, text.indexOf('✓'))).length + 1];
    async function* pieces(): AsyncGenerator<Uint8Array> {
      yield bytes.subarray(0, cuts[0]);
      yield bytes.subarray(cuts[0], cuts[1]);
      yield bytes.subarray(cuts[1]);
    }
    const meter = newMeter(performance.now());
    expect((await collect(passthroughStream(pieces(), codecs.openai, true, meter, 'p'))).join('')).toBe(text);
    expect(meter.usage).toMatchObject({ inputTokens: 3, outputTokens: 2 });
  });
});

describe('SSE batches and counts', () => {
  it('yields the messages each read completes, never an empty batch, and the same messages as parseSSE', async () => {
    const upstream = ['event: a\ndata: 1\n\nevent: b\nda', 'ta: 2\n', '\n', 'data: 3\n\ndata: 4\n\n', 'data: never ended'];
    const batches = await collect(parseSSEBatches(reads(upstream)));
    expect(batches.map((batch) => batch.map((m) => m.data))).toEqual([['1'], ['2'], ['3', '4']]);
    expect(batches.flat()).toEqual(await collect(parseSSE(reads(upstream))));
  });

  it('counts the events a piece of a stream holds, as text and as bytes', () => {
    const text = 'event: a\ndata: 1\n\ndata: 2\ndata: 3\n\ndata: [DONE]\n\n';
    expect(sseEventCount(text)).toBe(3);
    expect(sseEventCount(new TextEncoder().encode(text))).toBe(3);
    expect(sseEventCount('data: {"partial":')).toBe(0);
    expect(sseEventCount(new Uint8Array([0x0a, 0x0a, 0x0a]))).toBe(1);
  });
});
