import { readFileSync } from 'node:fs';
import type { WireFormat } from '../../../src/formats/canonical.js';
import { parseSSE, type SSEMessage } from '../../../src/formats/sse.js';

/**
 * Recorded-shape provider bodies and streams from test/fixtures/<format>/: `<name>.json` for a whole body,
 * `<name>.chunks.txt` for a stream with one SSE payload per line (written from the providers' published examples).
 */
export function formatFixtures(format: WireFormat) {
  const dir = new URL(`../../fixtures/${format}/`, import.meta.url);
  return {
    fixture<T = Record<string, unknown>>(name: string): T {
      return JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as T;
    },
    /** The stream as the provider frames it, through the real SSE parser: Anthropic and Responses name each event by its `type`. */
    fixtureStream(name: string): AsyncIterable<SSEMessage> {
      const lines = readFileSync(new URL(`${name}.chunks.txt`, dir), 'utf8').split('\n').filter((line) => line.trim() !== '');
      const named = format === 'anthropic' || format === 'responses';
      return parseSSE(fromArray(lines.map((line) => `${named ? `event: ${eventName(line)}\r\n` : ''}data: ${line}\r\n\r\n`)));
    },
  };
}

const eventName = (payload: string) => (JSON.parse(payload) as { type: string }).type;

export async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** The JSON payloads of the SSE text an encoder produced, checking the framing on the way. */
export function ssePayloads(frames: readonly string[]): Array<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return frames.map((frame) => {
    if (!frame.startsWith('data: ') || !frame.endsWith('\n\n')) throw new Error(`not one SSE data event: ${JSON.stringify(frame)}`);
    return JSON.parse(frame.slice('data: '.length)) as Record<string, unknown>;
  });
}
