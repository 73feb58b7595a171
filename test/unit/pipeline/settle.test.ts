import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { GatewayRequest, Outcome } from '../../../src/pipeline/types.js';
import { ModelCatalog } from '../../../src/router/model-catalog.js';

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
