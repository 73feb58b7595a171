import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { mockAndNode, mockProviders } from '../helpers/gateway.js';

/**
 * The exact-match response cache on a real node in key mode, driven with the official OpenAI and Anthropic SDKs.
 * Hits are proven by the upstream not being called again and by the answer's id: the mock gives every answer a new
 * one, so only a stored answer repeats it.
 */
const KEY_A = 'team-a-cache-key-0123456789';
const KEY_B = 'team-b-cache-key-0123456789';
const KEY_Q = 'team-q-quota-key-0123456789';

const ctx = mockAndNode((mock) => {
  const p = mockProviders(mock);
  return [p.openai, p.anthropic];
}, {
  auth: { mode: 'key' },
  key_map: {
    [KEY_A]: { label: 'team-a' },
    [KEY_B]: { label: 'team-b' },
    [KEY_Q]: { label: 'team-q', requests: { limit: 3, period: 'day' }, tokens: { limit: 100_000, period: 'day' } },
  },
  cache: { enabled: true, default: 'use', projects: { 'shared-docs': { shared: true }, 'no-cache': { default: 'skip' } } },
});

const openai = (key: string, headers: Record<string, string> = {}) =>
  new OpenAI({ baseURL: `${ctx.node.url}/v1`, apiKey: key, maxRetries: 0, defaultHeaders: headers });
const anthropic = (key: string) => new Anthropic({ baseURL: ctx.node.url, apiKey: key, maxRetries: 0 });
const upstreamCalls = () => ctx.mock.requests.length;

/** Resolves once the node finished (settled and recorded) `n` more requests than `before`. */
const finished = (before: number, n = 1) => ctx.node.waitForOutcomes(before + n).then((all) => all.slice(before, before + n));

/** Runs one request and waits until it finished and its answer is in the cache. */
async function stored<T>(run: () => Promise<T>): Promise<T> {
  const before = ctx.node.outcomes.length;
  const result = await run();
  await finished(before);
  await ctx.node.gateway.cache!.flush();
  return result;
}

describe('response cache', () => {
  it('answers a repeated request from the cache: no upstream call, same answer, costs nothing and says so', async () => {
    const client = openai(KEY_A);
    const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'what is a cache?' }], max_tokens: 50 };
    const calls = upstreamCalls();
    const before = ctx.node.outcomes.length;
    const first = await stored(() => client.chat.completions.create(body).withResponse());
    expect(first.response.headers.get('x-meshgate-cache')).toBe('miss');

    const second = await client.chat.completions.create(body).withResponse();
    expect(second.response.headers.get('x-meshgate-cache')).toBe('hit');
    expect(second.response.headers.get('x-meshgate-provider')).toBe('cache');
    expect(upstreamCalls()).toBe(calls + 1);
    expect(second.data.id).toBe(first.data.id);
    expect(second.data.choices[0]!.message.content).toBe(first.data.choices[0]!.message.content);

    const [outcome] = await finished(before + 1);
    expect(outcome!.cache).toBe('hit');
    const { data: [record] } = await ctx.node.gateway.records.list({}, undefined, 1);
    expect(record).toMatchObject({ id: outcome!.requestId, cache: 'hit', served_by: 'cache', cost_micros: 0, prompt_tokens: 0, completion_tokens: 0, model: 'gpt-4o' });
  });

  it('replays a hit as a stream to the OpenAI SDK, from an answer stored streamed or not', async () => {
    const client = openai(KEY_A);
    const messages = [{ role: 'user' as const, content: 'stream the cached answer' }];
    let firstText = '';
    const first = await stored(async () => {
      const streamed = await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }).withResponse();
      for await (const chunk of streamed.data) firstText += chunk.choices[0]?.delta.content ?? '';
      return streamed;
    });
    expect(first.response.headers.get('x-meshgate-cache')).toBe('miss');
    const calls = upstreamCalls();

    const replay = await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } }).withResponse();
    expect(replay.response.headers.get('x-meshgate-cache')).toBe('hit');
    expect(replay.response.headers.get('content-type')).toContain('text/event-stream');
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of replay.data) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish ??= chunk.choices[0]?.finish_reason;
      usage ??= chunk.usage;
    }
    expect(text).toBe(firstText);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);

    // The same request not streamed is the same entry.
    const plain = await client.chat.completions.create({ model: 'gpt-4o', messages }).withResponse();
    expect(plain.response.headers.get('x-meshgate-cache')).toBe('hit');
    expect(plain.data.choices[0]!.message.content).toBe(firstText);
    expect(upstreamCalls()).toBe(calls);
  });

  it('replays a hit as an Anthropic event stream that the Anthropic SDK accumulates', async () => {
    const client = anthropic(KEY_A);
    const body = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user' as const, content: 'anthropic cached stream' }] };
    const first = await stored(() => client.messages.create(body));
    const calls = upstreamCalls();

    const stream = client.messages.stream(body);
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    const { response } = await stream.withResponse();
    expect(response.headers.get('x-meshgate-cache')).toBe('hit');
    expect(final.id).toBe(first.id);
    expect(final.stop_reason).toBe('end_turn');
    expect(deltas.join('')).toBe((first.content[0] as { text: string }).text);
    expect(upstreamCalls()).toBe(calls);
  });

  it('replays a hit as a Gemini stream that the Google GenAI SDK reads, from an answer stored unstreamed', async () => {
    // x-goog-api-key is not read as a credential yet (issue 20): the key also goes as x-api-key.
    const ai = new GoogleGenAI({ apiKey: KEY_A, httpOptions: { baseUrl: ctx.node.url, apiVersion: 'v1beta', headers: { 'x-api-key': KEY_A } } });
    const request = { model: 'gpt-4o', contents: 'gemini client, cached answer' };
    const first = await stored(() => ai.models.generateContent(request));
    const calls = upstreamCalls();
    let text = '';
    let finish: string | undefined;
    for await (const chunk of await ai.models.generateContentStream(request)) {
      text += chunk.text ?? '';
      finish ??= chunk.candidates?.[0]?.finishReason;
    }
    expect(text).toBe(first.text);
    expect(finish).toBe('STOP');
    expect(upstreamCalls()).toBe(calls);
  });

  it('keeps principals apart; a project configured as shared is one scope for everyone naming it', async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'scoped question' }] };
    const a = await stored(() => openai(KEY_A).chat.completions.create(body));
    const b = await openai(KEY_B).chat.completions.create(body).withResponse();
    expect(b.response.headers.get('x-meshgate-cache')).toBe('miss');
    expect(b.data.id).not.toBe(a.id);

    const shared = { 'x-project': 'shared-docs' };
    const fromA = await stored(() => openai(KEY_A, shared).chat.completions.create(body).withResponse());
    expect(fromA.response.headers.get('x-meshgate-cache')).toBe('miss');
    const fromB = await openai(KEY_B, shared).chat.completions.create(body).withResponse();
    expect(fromB.response.headers.get('x-meshgate-cache')).toBe('hit');
    expect(fromB.data.id).toBe(fromA.data.id);
  });

  it('follows x-meshgate-cache (skip, refresh, use) and the project default; refuses an unknown mode', async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'mode question' }] };
    const first = await stored(() => openai(KEY_A).chat.completions.create(body));

    const skipped = await openai(KEY_A, { 'x-meshgate-cache': 'skip' }).chat.completions.create(body).withResponse();
    expect(skipped.response.headers.get('x-meshgate-cache')).toBeNull();
    expect(skipped.data.id).not.toBe(first.id);

    const refreshed = await stored(() => openai(KEY_A, { 'x-meshgate-cache': 'refresh' }).chat.completions.create(body).withResponse());
    expect(refreshed.response.headers.get('x-meshgate-cache')).toBe('miss');
    const used = await openai(KEY_A, { 'x-meshgate-cache': 'use' }).chat.completions.create(body);
    expect(used.id).toBe(refreshed.data.id);

    const optedOut = await openai(KEY_A, { 'x-project': 'no-cache' }).chat.completions.create(body).withResponse();
    expect(optedOut.response.headers.get('x-meshgate-cache')).toBeNull();

    const res = await fetch(`${ctx.node.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY_A}`, 'x-meshgate-cache': 'always' }, body: JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('x-meshgate-cache');
  });

  it('checks limits before the cache: a hit counts against the request quota but takes no tokens', async () => {
    const client = openai(KEY_Q);
    const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'quota question' }], max_tokens: 40 };
    const miss = await stored(() => client.chat.completions.create(body).withResponse());
    expect(miss.response.headers.get('x-ratelimit-remaining-requests')).toBe('2');
    const before = ctx.node.outcomes.length - 1;

    const hit1 = await client.chat.completions.create(body).withResponse();
    expect(hit1.response.headers.get('x-meshgate-cache')).toBe('hit');
    expect(hit1.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    await finished(before + 1);
    const hit2 = await client.chat.completions.create(body).withResponse();
    expect(hit2.response.headers.get('x-meshgate-cache')).toBe('hit');
    expect(hit2.response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    // Each hit reserved the same estimate from the same counter: the previous hit settled at zero tokens.
    expect(hit2.response.headers.get('x-ratelimit-remaining-tokens')).toBe(hit1.response.headers.get('x-ratelimit-remaining-tokens'));
    await finished(before + 2);

    const refused = await fetch(`${ctx.node.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY_Q}` }, body: JSON.stringify(body),
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-meshgate-cache')).toBeNull();
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('requests_limit_exceeded');
  });
});
