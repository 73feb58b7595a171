/**
 * Regenerates session-frames.json, the `/meshgate/forward/2.0.0` frame vectors:
 * `npx tsx protocol/vectors/forward/generate.ts`. Frames are built by hand here (bytes as the spec lays them out),
 * not by the encoder under test; test/mesh/protocol-vectors.test.ts checks the encoder and decoder against them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const utf8 = (text: string) => [...new TextEncoder().encode(text)];
const uvarint = (value: number) => {
  const bytes: number[] = [];
  for (; value >= 0x80; value = Math.floor(value / 0x80)) bytes.push((value % 0x80) | 0x80);
  return [...bytes, value];
};
/** uvarint(n) ‖ type ‖ uvarint(sid) ‖ payload, n counting everything after the prefix. */
const frame = (type: number, sid: number, payload: number[]) => {
  const body = [type, ...uvarint(sid), ...payload];
  return Buffer.from([...uvarint(body.length), ...body]).toString('hex');
};

const request = {
  id: 'req_7f3a', format: 'openai', operation: 'chat', model: 'gpt-4o-mini', stream: true,
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, hop: 1, visited: ['12D3KooWRequester'], deadline: 1790000000000,
};
const head = { status: 200, headers: { 'content-type': 'text/event-stream' } };
const trailer = { usage: { inputTokens: 9, outputTokens: 2 }, provider: 'openai', model: 'gpt-4o-mini-2024-07-18' };
const refusal = { code: 'busy', message: 'node is at capacity' };

const valid = [
  { description: 'REQUEST on session id 1', sid: 1, frame: { type: 'request', value: request }, hex: frame(0x01, 1, utf8(JSON.stringify(request))) },
  { description: 'HEAD for session id 1', sid: 1, frame: { type: 'head', value: head }, hex: frame(0x02, 1, utf8(JSON.stringify(head))) },
  { description: 'DATA for session id 300 (a two-byte session id)', sid: 300, frame: { type: 'data', base64: Buffer.from('data: {"x":1}\n\n').toString('base64') }, hex: frame(0x03, 300, utf8('data: {"x":1}\n\n')) },
  { description: 'HEARTBEAT for session id 1', sid: 1, frame: { type: 'heartbeat' }, hex: frame(0x04, 1, []) },
  { description: 'TRAILER for session id 1', sid: 1, frame: { type: 'trailer', value: trailer }, hex: frame(0x05, 1, utf8(JSON.stringify(trailer))) },
  { description: 'REFUSAL for session id 2', sid: 2, frame: { type: 'refusal', value: refusal }, hex: frame(0x06, 2, utf8(JSON.stringify(refusal))) },
  { description: 'CREDIT of 262144 bytes for session id 1', sid: 1, frame: { type: 'credit', value: 262_144 }, hex: frame(0x07, 1, uvarint(262_144)) },
  { description: 'RESET of session id 4294967295 (the largest session id)', sid: 4_294_967_295, frame: { type: 'reset' }, hex: frame(0x08, 4_294_967_295, []) },
];

const invalid = [
  { description: 'session id 0 (never used): the session is closed', hex: frame(0x04, 0, []), closes: 'session' },
  { description: 'session id above 32 bits: the session is closed', hex: frame(0x04, 4_294_967_296, []), closes: 'session' },
  { description: 'CREDIT whose payload is not one uvarint: only its request fails', hex: frame(0x07, 1, [0x80]), closes: 'request', sid: 1 },
  { description: 'REQUEST whose JSON is not a request: refused with bad_request for its session id', hex: frame(0x01, 5, utf8('{"not":"a request"}')), closes: 'request', sid: 5 },
];

const skipped = [{ description: 'a frame type this reader does not know (0x7f): skipped', sid: 9, type: 0x7f, hex: frame(0x7f, 9, utf8('future')) }];

writeFileSync(join(import.meta.dirname, 'session-frames.json'), `${JSON.stringify({ valid, invalid, skipped }, null, 2)}\n`);
