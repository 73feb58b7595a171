import { afterEach, describe, expect, it, vi } from 'vitest';
import { codecs } from '../../../src/formats/index.js';
import { relayMeter } from '../../../src/gateway/relay-meter.js';

const encoder = new TextEncoder();
const event = (data: unknown) => encoder.encode(`data: ${JSON.stringify(data)}\n\n`);
const delta = (text: string) => event({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });
const usage = event({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 } });

function feedAll(meter: ReturnType<typeof relayMeter>, chunks: Uint8Array[]) {
  for (const chunk of chunks) meter.feed(chunk);
}

describe('relayMeter', () => {
  afterEach(() => vi.restoreAllMocks());

  it('deferred: keeps a stream without decoding it until the result is asked for, and measures it as an eager meter does', async () => {
    const chunks = [delta('Hello, '), delta('wide world of tokens'), usage, encoder.encode('data: [DONE]\n\n')];
    // Split across an event boundary too, as a network delivers it.
    const split = [chunks[0]!.subarray(0, 10), chunks[0]!.subarray(10), ...chunks.slice(1)];
    const tap = vi.spyOn(codecs.openai, 'tapStreamMessage');
    const deferred = relayMeter('openai', true, { deferred: true });
    feedAll(deferred, split);
    expect(tap).not.toHaveBeenCalled();
    const eager = relayMeter('openai', true);
    feedAll(eager, split);
    expect(tap).toHaveBeenCalled();
    const [fromDeferred, fromEager] = await Promise.all([deferred.result(), eager.result()]);
    expect(fromDeferred).toEqual(fromEager);
    expect(fromDeferred.reported).toEqual({ input: 12, output: 7, cached: 0 });
    expect(fromDeferred.outputTokens).toBeGreaterThan(0);
  });

  it('deferred: decodes what it holds once that passes the metering bound, and goes on decoding as chunks come', async () => {
    const tap = vi.spyOn(codecs.openai, 'tapStreamMessage');
    const deferred = relayMeter('openai', true, { deferred: true });
    const eager = relayMeter('openai', true);
    const big = delta('x'.repeat(1024 * 1024));
    for (let i = 0; i < 17; i++) {
      deferred.feed(big);
      eager.feed(big);
    }
    const calls = tap.mock.calls.length;
    // 17 from the eager meter; the deferred one decoded its 17 once it held more than 16 MB.
    expect(calls).toBe(34);
    deferred.feed(usage);
    eager.feed(usage);
    expect(tap.mock.calls.length).toBe(calls + 2);
    expect(await deferred.result()).toEqual(await eager.result());
  });
});
