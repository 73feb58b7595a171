import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { GatewayRequest, Outcome } from '../../../src/pipeline/types.js';
import { createProvider } from '../../../src/providers/index.js';
import { ModelCatalog } from '../../../src/router/model-catalog.js';
import { startMockUpstream, type MockUpstream } from '../../mock/index.js';

const request = (): GatewayRequest => ({
  id: 'req_settle', format: 'openai', operation: 'chat', body: { model: 'nowhere', messages: [{ role: 'user', content: 'hi' }] }, model: 'nowhere',
  stream: false, signal: new AbortController().signal, principal: { kind: 'public' }, receivedAt: Date.now(), hop: { count: 0, visited: [] },
});

function pipelineWith(admission: { settle: () => void; release: () => void }, onComplete: (outcome: Outcome) => void) {
  const lines: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
  const config = parseConfig({}, 'test', {});
  const pipeline = new Pipeline({ config, catalog: new ModelCatalog([]), breakers: new Map(), logger, admit: async () => ({ headers: {}, ...admission }), onComplete });
  return { pipeline, lines };
}

describe('a finished request is settled, then completed', () => {
  it('releases the reservation of a request that produced nothing, then tells onComplete its outcome', async () => {
    const order: string[] = [];
    const { pipeline } = pipelineWith({ settle: () => order.push('settle'), release: () => order.push('release') }, (outcome) => order.push(`complete ${outcome.status}`));
    await expect(pipeline.handle(request())).rejects.toMatchObject({ code: 'model_not_found' });
    await vi.waitFor(() => expect(order).toEqual(['release', 'complete 404']));
  });

  it("completes a request without waiting for its settlement's write (the quota store may hold it for the next one)", async () => {
    const order: string[] = [];
    // A settlement whose write never finishes: the counters changed at once, the record must not wait on the disk.
    const { pipeline } = pipelineWith({ settle: () => undefined, release: () => { order.push('release'); return new Promise<void>(() => undefined); } }, (outcome) => order.push(`complete ${outcome.status}`));
    await expect(pipeline.handle(request())).rejects.toMatchObject({ code: 'model_not_found' });
    await vi.waitFor(() => expect(order).toEqual(['release', 'complete 404']));
  });

  it('logs a settlement that failed and still completes the request (never an unhandled rejection)', async () => {
    const completed: Outcome[] = [];
    const { pipeline, lines } = pipelineWith({ settle: () => undefined, release: () => { throw new Error('quota store unreachable'); } }, (outcome) => completed.push(outcome));
    await expect(pipeline.handle(request())).rejects.toMatchObject({ code: 'model_not_found' });
    await vi.waitFor(() => expect(completed.map((o) => o.requestId)).toEqual(['req_settle']));
    expect(lines.map((line) => JSON.parse(line) as { msg: string; requestId: string })).toContainEqual(expect.objectContaining({ msg: 'quota settlement failed', requestId: 'req_settle' }));
  });

  it('logs a completion handler that failed', async () => {
    const { pipeline, lines } = pipelineWith({ settle: () => undefined, release: () => undefined }, () => { throw new Error('listener broke'); });
    await expect(pipeline.handle(request())).rejects.toMatchObject({ code: 'model_not_found' });
    await vi.waitFor(() => expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toContain('completion handling failed'));
  });
});

describe('the answer before the settlement', () => {
  let mock: MockUpstream;
  beforeAll(async () => {
    mock = await startMockUpstream();
  });
  afterAll(async () => {
    await mock?.close();
  });

  /** A pipeline over the mock upstream whose admission and completion say when they run, in `order`. */
  function served(order: string[]) {
    const config = parseConfig({ providers: [{ id: 'mock', type: 'openai', base_url: mock.openaiBaseUrl, api_key: 'test-key', models: ['gpt-4o'] }] }, 'test', {});
    const catalog = new ModelCatalog(config.providers.map((provider) => createProvider(provider)));
    const pipeline = new Pipeline({
      config, catalog, breakers: new Map(), logger: pino({ level: 'silent' }),
      admit: async () => ({ headers: {}, settle: () => void order.push('settle'), release: () => void order.push('release') }),
      onComplete: (outcome) => void order.push(`complete ${outcome.status}`),
    });
    return { pipeline, close: () => Promise.all(catalog.providers().map((provider) => provider.close())) };
  }
  const ask = (stream: boolean): GatewayRequest => ({
    id: `req_${stream ? 'stream' : 'whole'}`, format: 'openai', operation: 'chat', body: { model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'answer first' }] },
    model: 'gpt-4o', stream, signal: new AbortController().signal, principal: { kind: 'public' }, receivedAt: Date.now(), hop: { count: 0, visited: [] },
  });

  it('leaves a whole answer to its caller (the HTTP route writes it) before the quota is settled and the request completed', async () => {
    const order: string[] = [];
    const { pipeline, close } = served(order);
    const response = await pipeline.handle(ask(false));
    order.push('answer written');
    expect(response.body.kind).toBe('bytes');
    await vi.waitFor(() => expect(order).toEqual(['answer written', 'settle', 'complete 200']));
    await close();
  });

  it("leaves a stream's end to its caller before the quota is settled and the request completed", async () => {
    const order: string[] = [];
    const { pipeline, close } = served(order);
    const response = await pipeline.handle(ask(true));
    if (response.body.kind !== 'sse') throw new Error('not a stream');
    for await (const _ of response.body.events) { /* relay every event */ }
    order.push('stream ended');
    await vi.waitFor(() => expect(order).toEqual(['stream ended', 'settle', 'complete 200']));
    await close();
  });

  it('outcomes have the same keys in the same order whether the request was served, streamed or refused (one shape for the recorder, metrics and log line)', async () => {
    const config = parseConfig({ providers: [{ id: 'mock', type: 'openai', base_url: mock.openaiBaseUrl, api_key: 'test-key', models: ['gpt-4o'] }] }, 'test', {});
    const catalog = new ModelCatalog(config.providers.map((provider) => createProvider(provider)));
    const outcomes: Outcome[] = [];
    const pipeline = new Pipeline({ config, catalog, breakers: new Map(), logger: pino({ level: 'silent' }), onComplete: (outcome) => void outcomes.push(outcome) });
    const chat = (model: string, stream: boolean): GatewayRequest => ({
      id: `req_${model}_${stream}`, format: 'openai', operation: 'chat', body: { model, stream, messages: [{ role: 'user', content: 'hi' }] },
      model, stream, signal: new AbortController().signal, principal: { kind: 'public' }, receivedAt: Date.now(), hop: { count: 0, visited: [] },
    });
    await pipeline.handle(chat('gpt-4o', false));
    const streamed = await pipeline.handle(chat('gpt-4o', true));
    if (streamed.body.kind !== 'sse') throw new Error('not a stream');
    for await (const _ of streamed.body.events) { /* relay every event */ }
    await expect(pipeline.handle(chat('nowhere', false))).rejects.toMatchObject({ code: 'model_not_found' });
    await vi.waitFor(() => expect(outcomes).toHaveLength(3));
    const [served, stream, refused] = outcomes;
    expect(served).toMatchObject({ status: 200, provider: 'mock', stream: false });
    expect(stream).toMatchObject({ status: 200, stream: true });
    expect(refused).toMatchObject({ status: 404, provider: undefined, usage: undefined });
    expect(Object.keys(stream!)).toEqual(Object.keys(served!));
    expect(Object.keys(refused!)).toEqual(Object.keys(served!));
    await Promise.all(catalog.providers().map((provider) => provider.close()));
  });
});
