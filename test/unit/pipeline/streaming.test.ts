import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onStreamEnd, primeStream } from '../../../src/pipeline/streaming.js';
import type { GatewayRequest } from '../../../src/pipeline/types.js';
import { startMockUpstream, type MockUpstream } from '../../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../../helpers/gateway.js';

async function* numbers(log: string[]): AsyncGenerator<number> {
  try {
    for (let i = 1; i <= 3; i++) yield i;
  } finally {
    log.push('source closed');
  }
}

describe('stream helpers', () => {
  it('onStreamEnd fires once when the consumer closes a stream it never read', async () => {
    const ends: Array<[unknown, boolean]> = [];
    const stream = onStreamEnd(numbers([]), (error, completed) => ends.push([error, completed]));
    await stream.return(undefined);
    await stream.return(undefined);
    expect(ends).toEqual([[undefined, false]]);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('onStreamEnd reports completion and errors', async () => {
    const ends: Array<[unknown, boolean]> = [];
    const all: number[] = [];
    for await (const n of onStreamEnd(numbers([]), (error, completed) => ends.push([error, completed]))) all.push(n);
    expect(all).toEqual([1, 2, 3]);
    const failing = (async function* () {
      yield 1;
      throw new Error('upstream broke');
    })();
    const error = await (async () => {
      for await (const _ of onStreamEnd(failing, (e, completed) => ends.push([(e as Error).message, completed]))) { /* drain */ }
    })().catch((e: Error) => e.message);
    expect(error).toBe('upstream broke');
    expect(ends).toEqual([[undefined, true], ['upstream broke', false]]);
  });

  it('hooks added to a primed stream before its first read share it (no wrapper per hook), each hearing of the end once, in order', async () => {
    const heard: string[] = [];
    const primed = await primeStream(numbers(heard));
    const slot = onStreamEnd(primed, (error, completed) => heard.push(`slot ${String(error)} ${completed}`));
    const request = onStreamEnd(slot, () => {
      heard.push('request');
      throw new Error('a hook that fails');
    });
    const cache = onStreamEnd(request, () => heard.push('cache'));
    expect(slot).toBe(primed);
    expect(cache).toBe(primed);
    const seen: number[] = [];
    await expect((async () => {
      for await (const n of cache) seen.push(n);
    })()).rejects.toThrow('a hook that fails');
    expect(seen).toEqual([1, 2, 3]);
    expect(heard).toEqual(['source closed', 'slot undefined true', 'request', 'cache']);

    // Once read, a stream is wrapped instead: a hook added late still hears of the end from where it joined.
    const late: string[] = [];
    const started = await primeStream(numbers(late));
    expect((await started.next()).value).toBe(1);
    const wrapped = onStreamEnd(started, (_error, completed) => late.push(`late ${completed}`));
    expect(wrapped).not.toBe(started);
    await wrapped.return(undefined);
    expect(late).toEqual(['source closed', 'late false']);
  });

  it('primeStream yields the primed item first, and closing it unread closes the source', async () => {
    const log: string[] = [];
    const primed = await primeStream(numbers(log));
    await primed.return(undefined);
    expect(log).toEqual(['source closed']);
    const again = await primeStream(numbers([]));
    const seen: number[] = [];
    for await (const n of again) seen.push(n);
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('a streamed response dropped before its first read', () => {
  let mock: MockUpstream;
  let node: TestGateway;
  beforeAll(async () => {
    mock = await startMockUpstream();
    node = await startTestGateway([{ id: 'mock', type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_concurrent: 1 }]);
  });
  afterAll(async () => {
    await node?.close();
    await mock?.close();
  });

  it('releases the request slot, the provider slot and the upstream request, and still records the request', async () => {
    const request = (id: string): GatewayRequest => ({
      id, format: 'openai', operation: 'chat', body: { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'never read' }] },
      model: 'gpt-4o', stream: true, signal: new AbortController().signal, principal: { kind: 'public' }, receivedAt: Date.now(), hop: { count: 0, visited: [] },
    });
    const before = node.outcomes.length;
    const response = await node.gateway.pipeline.handle(request('req_dropped'));
    expect(response.body.kind).toBe('sse');
    expect(node.gateway.pipeline.load).toBe(1);
    if (response.body.kind === 'sse') await response.body.events.return(undefined);
    expect(node.gateway.pipeline.load).toBe(0);
    const [outcome] = (await node.waitForOutcomes(before + 1)).slice(before);
    expect(outcome).toMatchObject({ requestId: 'req_dropped', clientAborted: true });
    // max_concurrent = 1 for the provider: a leaked slot would make this one fail.
    const next = await node.gateway.pipeline.handle({ ...request('req_next'), stream: false, body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'next' }] } });
    expect(next.status).toBe(200);
  });

  it('holds the provider slot while a stream is open, then releases it and feeds the router one measurement as it ends', async () => {
    const request = (id: string, stream: boolean): GatewayRequest => ({
      id, format: 'openai', operation: 'chat', body: { model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'one two three' }] },
      model: 'gpt-4o', stream, signal: new AbortController().signal, principal: { kind: 'public' }, receivedAt: Date.now(), hop: { count: 0, visited: [] },
    });
    const samples = () => node.gateway.router.stats.signals('mock/gpt-4o').samples;
    const before = samples();
    const response = await node.gateway.pipeline.handle(request('req_open', true));
    expect(response.body.kind).toBe('sse');
    // max_concurrent = 1: the open stream holds the provider's slot, so a second request is refused (a neutral refusal).
    await expect(node.gateway.pipeline.handle(request('req_refused', false))).rejects.toMatchObject({ code: 'provider_at_capacity' });
    expect(samples()).toBe(before);
    if (response.body.kind === 'sse') for await (const _ of response.body.events) { /* drain to the end */ }
    expect(samples()).toBe(before + 1);
    expect(node.gateway.router.stats.signals('mock/gpt-4o').successRate).toBeGreaterThan(0);
    const next = await node.gateway.pipeline.handle(request('req_after', false));
    expect(next.status).toBe(200);
    expect(samples()).toBe(before + 2);
  });
});

describe('a request whose client leaves, and one whose deadline passes', () => {
  let mock: MockUpstream;
  let node: TestGateway;
  beforeAll(async () => {
    mock = await startMockUpstream();
    node = await startTestGateway([{ id: 'mock', type: 'openai', base_url: mock.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 }]);
  });
  afterAll(async () => {
    await node?.close();
    await mock?.close();
  });
  const request = (id: string, signal: AbortSignal): GatewayRequest => ({
    id, format: 'openai', operation: 'chat', body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'waiting' }] },
    model: 'gpt-4o', stream: false, signal, principal: { kind: 'public' }, receivedAt: Date.now(), hop: { count: 0, visited: [] },
  });

  it('records a client that left as an abort (499), charged the input the upstream received, not as a failure', async () => {
    mock.enqueue({ kind: 'hang' });
    const before = node.outcomes.length;
    const controller = new AbortController();
    const requests = mock.requests.length;
    const handled = node.gateway.pipeline.handle(request('req_left', controller.signal));
    await mock.waitForRequests(requests + 1);
    controller.abort(new Error('stream reset by the requesting peer'));
    await expect(handled).rejects.toThrow();
    const [outcome] = (await node.waitForOutcomes(before + 1)).slice(before);
    expect(outcome).toMatchObject({ requestId: 'req_left', clientAborted: true, status: 499, errorType: 'client_closed', usageEstimated: true });
    expect(outcome!.usage!.inputTokens).toBeGreaterThan(0);
  });

  it('records a deadline that passed as a timeout, not as the client leaving', async () => {
    mock.enqueue({ kind: 'hang' });
    const before = node.outcomes.length;
    await expect(node.gateway.pipeline.handle(request('req_deadline', AbortSignal.timeout(300)))).rejects.toThrow();
    const [outcome] = (await node.waitForOutcomes(before + 1)).slice(before);
    expect(outcome!.clientAborted).toBeFalsy();
    expect(outcome!.errorType).not.toBe('client_closed');
    expect(outcome!.status).toBeGreaterThanOrEqual(500);
  });
});
