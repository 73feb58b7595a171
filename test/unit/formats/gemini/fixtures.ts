import { readFileSync } from 'node:fs';
import { parseSSE, type SSEMessage } from '../../../../src/formats/sse.js';

const FIXTURES = new URL('../../../fixtures/gemini/', import.meta.url);

/** A recorded-shape Gemini body from test/fixtures/gemini/<name>.json. */
export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as T;
}

/** The SSE stream of test/fixtures/gemini/<name>.chunks.txt (one `data:` payload per line), through the real SSE parser. */
export function fixtureStream(name: string): AsyncIterable<SSEMessage> {
  const lines = readFileSync(new URL(`${name}.chunks.txt`, FIXTURES), 'utf8').split('\n').filter((line) => line.trim() !== '');
  return parseSSE(fromArray(lines.map((line) => `data: ${line}\r\n\r\n`)));
}

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
