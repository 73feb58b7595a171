import type { FastifyRequest } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { unauthorized } from '../../../src/errors/index.js';
import { buildApp } from '../../../src/http/app.js';
import { gatewayRequest } from '../../../src/http/context.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { ModelCatalog } from '../../../src/router/model-catalog.js';

// V8 gives objects of one role one shape (hidden class) only when they get the same properties in the same order; a
// property added later moves each object to another shape and makes the sites that read them polymorphic. Own keys in
// order are what a test can see of that.

describe('the objects a request is carried in keep one shape', () => {
  it('a fastify request has the fields the hooks fill (principal, clientSignal, clientIp) from its construction', async () => {
    const config = parseConfig({}, 'test', {});
    const logger = pino({ level: 'silent' });
    const catalog = new ModelCatalog([]);
    let seen: Record<string, unknown> | undefined;
    const app = await buildApp({
      config, logger, pipeline: new Pipeline({ config, catalog, breakers: new Map(), logger }),
      info: { catalog, breakers: new Map(), startedAt: Date.now() },
      authenticate: async (request) => {
        // Before the principal is known: the field exists already, empty.
        seen = { ownPrincipal: Object.hasOwn(request, 'principal'), ownClientIp: Object.hasOwn(request, 'clientIp'), ownSignal: Object.hasOwn(request, 'clientSignal'), principal: request.principal };
        throw unauthorized('Missing credentials.', 'missing_credentials');
      },
    });
    try {
      const response = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { model: 'm', messages: [] } });
      expect(response.statusCode).toBe(401);
      expect(seen).toEqual({ ownPrincipal: true, ownClientIp: true, ownSignal: true, principal: undefined });
    } finally {
      await app.close();
    }
  });

  it('gatewayRequest builds requests with the same keys in the same order whatever optional headers came', () => {
    const fastifyRequest = (headers: Record<string, string>) => ({
      id: 'req_1', headers, clientSignal: new AbortController().signal, principal: { kind: 'public' }, clientIp: '127.0.0.1', socket: {},
    }) as unknown as FastifyRequest;
    const init = { format: 'anthropic', operation: 'chat', body: { model: 'm' }, model: 'm', stream: false } as const;
    const plain = gatewayRequest(fastifyRequest({}), init);
    const full = gatewayRequest(fastifyRequest({ 'x-meshgate-profile': 'cheap', 'x-meshgate-cache': 'skip', 'anthropic-beta': 'tools-2024', 'x-project': 'p' }), init);
    expect(Object.keys(full)).toEqual(Object.keys(plain));
    expect(full).toMatchObject({ profile: 'cheap', cacheMode: 'skip', anthropicBeta: 'tools-2024', project: 'p' });
    expect(plain).toMatchObject({ profile: undefined, cacheMode: undefined, anthropicBeta: undefined, project: undefined });
    // A beta header on another format is not carried.
    expect(gatewayRequest(fastifyRequest({ 'anthropic-beta': 'tools-2024' }), { ...init, format: 'openai' }).anthropicBeta).toBeUndefined();
  });
});
