import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Same-format pass-through answers reach the client byte for byte as the upstream sent them (spacing, key order,
 * escapes: nothing is parsed and re-serialised), while the usage read out of them still drives the record and cost.
 * The upstream here is a scripted server that answers each request with the next body queued, whatever its path.
 */
let upstream: Server;
let node: TestGateway;
const queued: Array<{ body: string | Buffer; contentType?: string }> = [];
/** The request bodies the upstream received, as text. */
const received: string[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString('utf8'));
      const next = queued.shift() ?? { body: '{"error":{"message":"nothing queued"}}' };
      res.writeHead(200, { 'content-type': next.contentType ?? 'application/json' });
      res.end(next.body);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  node = await startTestGateway([
    { id: 'oai', type: 'openai', base_url: `${base}/v1`, api_key: TEST_KEY, models: ['gpt-4o', 'gpt-4o-latest'], model_map: { 'gpt-4o-latest': 'gpt-4o' }, max_retries: 0 },
    { id: 'ant', type: 'anthropic', base_url: base, api_key: TEST_KEY, models: ['claude-sonnet-4-5'], max_retries: 0 },
    { id: 'gem', type: 'gemini', base_url: `${base}/v1beta`, api_key: TEST_KEY, models: ['gemini-2.5-flash'], max_retries: 0 },
  ]);
});

afterAll(async () => {
  await node?.close();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

const openaiRequest = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello there' }] };

/** Sends `request` (JSON text as is, or a value to encode) to `path` with the upstream answering `upstreamBody`; the client's bytes and the request's outcome. */
async function exchange(path: string, request: unknown, upstreamBody: string | Buffer, contentType?: string) {
  queued.push({ body: upstreamBody, contentType });
  const before = node.outcomes.length;
  const res = await fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof request === 'string' ? request : JSON.stringify(request) });
  const bytes = Buffer.from(await res.arrayBuffer());
  const [outcome] = (await node.waitForOutcomes(before + 1)).slice(before);
  return { res, bytes, outcome: outcome! };
}

describe('same-format pass-through', () => {
  it('writes the upstream bytes unchanged and records the usage when it is the last field (OpenAI)', async () => {
    // Pretty-printed, a unicode escape and an escaped "usage" in the text: all of it would change if re-serialised.
    const body = '{\n  "id": "chatcmpl-1",\n  "object": "chat.completion",\n  "model": "gpt-4o",\n  "choices": [{"index": 0, "message": {"role": "assistant", "content": "caf\\u00e9 \\"usage\\": {\\"prompt_tokens\\": 999}"}, "finish_reason": "stop"}],\n  "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}\n}\n';
    const { res, bytes, outcome } = await exchange('/v1/chat/completions', openaiRequest, body);
    expect(res.status).toBe(200);
    expect(bytes.equals(Buffer.from(body))).toBe(true);
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(outcome.usage).toMatchObject({ inputTokens: 11, outputTokens: 7 });
    expect(outcome.usageEstimated).toBeFalsy();
  });

  it('passes on bytes a decode and re-encode would change: a byte-order mark, a byte that is not UTF-8', async () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"id":"chatcmpl-bom","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"'),
      Buffer.from([0xff]), Buffer.from('"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'),
    ]);
    const { res, bytes, outcome } = await exchange('/v1/chat/completions', openaiRequest, body);
    expect(res.status).toBe(200);
    expect(bytes.equals(body)).toBe(true);
    expect(outcome.usage).toMatchObject({ inputTokens: 5, outputTokens: 1 });
  });

  it('estimates the usage when the answer reports none, and still writes it unchanged', async () => {
    const body = '{"id":"chatcmpl-2","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"no usage here"},"finish_reason":"stop"}]}';
    const { bytes, outcome } = await exchange('/v1/chat/completions', openaiRequest, body);
    expect(bytes.equals(Buffer.from(body))).toBe(true);
    expect(outcome.usageEstimated).toBe(true);
    expect(outcome.usage!.inputTokens).toBeGreaterThan(0);
  });

  it('does not take a nested "usage" for the answer\'s own', async () => {
    // Only a tool's result object carries a usage key: the answer reports none of its own.
    const body = '{"id":"chatcmpl-3","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop","extra":{"usage":{"prompt_tokens":500,"completion_tokens":500}}}]}';
    const { outcome } = await exchange('/v1/chat/completions', openaiRequest, body);
    expect(outcome.usageEstimated).toBe(true);
    expect(outcome.usage!.inputTokens).not.toBe(500);
  });

  it('reads Anthropic usage at the end of the message and Gemini usageMetadata before the fields that follow it', async () => {
    const anthropicBody = '{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":21,"output_tokens":3,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}';
    const anthropic = await exchange('/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }, anthropicBody);
    expect(anthropic.bytes.equals(Buffer.from(anthropicBody))).toBe(true);
    expect(anthropic.outcome.usage).toMatchObject({ inputTokens: 21, outputTokens: 3 });

    const geminiBody = '{"candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"}, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13}, "modelVersion": "gemini-2.5-flash", "responseId": "r-1"}';
    const gemini = await exchange('/v1beta/models/gemini-2.5-flash:generateContent', { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, geminiBody);
    expect(gemini.bytes.equals(Buffer.from(geminiBody))).toBe(true);
    expect(gemini.outcome.usage).toMatchObject({ inputTokens: 9, outputTokens: 4 });
  });

  it('refuses an answer that is not JSON, as before (502, nothing passed on)', async () => {
    const { res, bytes } = await exchange('/v1/chat/completions', openaiRequest, '<html>upstream proxy error "usage": {"prompt_tokens": 1}}');
    expect(res.status).toBe(502);
    expect(bytes.toString()).not.toContain('<html>');
  });

  it('records the usage a stream reports in its last event', async () => {
    const chunk = (delta: object, extra: object = {}) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
    const body = chunk({ role: 'assistant', content: 'hi' }) + chunk({}) + `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o', choices: [], usage: { prompt_tokens: 13, completion_tokens: 2, total_tokens: 15 } })}\n\ndata: [DONE]\n\n`;
    const { res, bytes, outcome } = await exchange('/v1/chat/completions', { ...openaiRequest, stream: true, stream_options: { include_usage: true } }, body, 'text/event-stream');
    expect(res.status).toBe(200);
    expect(bytes.toString()).toBe(body);
    expect(outcome.usage).toMatchObject({ inputTokens: 13, outputTokens: 2 });
  });
});

describe('same-format pass-through of the request', () => {
  const answer = '{"id":"chatcmpl-r","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}';
  const lastReceived = () => received[received.length - 1]!;

  it("sends the client's own JSON text upstream when nothing changed it (spacing, key order and escapes kept)", async () => {
    const openai = '{ "messages" : [ { "role": "user", "content": "caf\\u00e9 \\"quoted\\": 1.0" } ],\n  "model": "gpt-4o", "temperature": 1.0 }';
    expect((await exchange('/v1/chat/completions', openai, answer)).res.status).toBe(200);
    expect(lastReceived()).toBe(openai);

    const anthropic = '{"model": "claude-sonnet-4-5",  "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}';
    await exchange('/v1/messages', anthropic, '{"id":"msg_r","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":2,"output_tokens":1}}');
    expect(lastReceived()).toBe(anthropic);

    // A stream whose client asked for usage itself needs no stream_options of the gateway's own.
    const stream = '{"model":"gpt-4o", "stream":true, "stream_options":{"include_usage":true}, "messages":[{"role":"user","content":"hi"}]}';
    await exchange('/v1/chat/completions', stream, 'data: [DONE]\n\n', 'text/event-stream');
    expect(lastReceived()).toBe(stream);
  });

  it('encodes the body again when the model name changes or a stream needs the usage chunk', async () => {
    const renamed = '{ "model": "gpt-4o-latest", "messages": [ { "role": "user", "content": "hi" } ] }';
    expect((await exchange('/v1/chat/completions', renamed, answer)).res.status).toBe(200);
    expect(JSON.parse(lastReceived())).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });

    const stream = '{ "model": "gpt-4o", "stream": true, "messages": [ { "role": "user", "content": "hi" } ] }';
    await exchange('/v1/chat/completions', stream, 'data: [DONE]\n\n', 'text/event-stream');
    expect(JSON.parse(lastReceived())).toEqual({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } });
  });

  it('never sends a text with a duplicate key upstream: JSON.parse keeps the last copy, which is all the sanitizer saw', async () => {
    const smuggling = '{"model":"gpt-4o","messages":[{"role":"user","content":"first copy, never checked"}],"messages":[{"role":"user","content":"hi"}]}';
    expect((await exchange('/v1/chat/completions', smuggling, answer)).res.status).toBe(200);
    expect(lastReceived()).not.toContain('first copy');
    expect(JSON.parse(lastReceived())).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  });
});
