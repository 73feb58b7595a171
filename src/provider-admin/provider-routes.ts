import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { providerSchema } from '../core-config/index.js';
import { GatewayError } from '../errors/index.js';
import type { RouteDoc } from '../openapi/index.js';
import type { ProviderRegistry } from './provider-registry.js';

const idParamsSchema = z.object({ id: z.string().describe('The provider id.') });

const viewSchema = z.object({
  id: z.string(),
  type: z.string().describe('The provider type or preset name.'),
  source: z.enum(['config', 'runtime']).describe('`config`: from the config file (read-only here); `runtime`: added through this API.'),
  credentials: z.enum(['set', 'unset']).describe('Whether the provider has a credential of its own; values are never shown.'),
  config: z.record(z.string(), z.unknown()).optional().describe('Run-time providers: the block as given, each literal secret (and header value) shown as "set"; a bare `${VAR}` reference stays.'),
  created_at: z.number().int().optional(),
  updated_at: z.number().int().optional(),
  status: z.enum(['serving', 'left_out']).optional().describe('Run-time providers: `left_out` when the stored block could not be read or built at start (another admin key, a variable now unset, credentials gone); PATCH fixes it, DELETE removes it.'),
  error: z.string().optional().describe('Why a run-time provider is left out.'),
});

const example = { id: 'groq-eu', type: 'groq', api_key: '${GROQ_API_KEY}', models: ['llama-3.3-70b-versatile'] };

const docs = {
  add: {
    tag: 'Admin', summary: 'Add a provider at run time',
    description: 'The same fields as a `[[providers]]` block of the config file, checked by the same schema. Serves at once (routing, model lists and circuit breakers updated) and is kept, sealed, in the node\'s data directory so it survives a restart. Literal keys are never shown again; `${VAR}` references are resolved from the node\'s environment.',
    body: providerSchema, bodyExample: example,
    responses: { 201: { description: 'The provider as it now serves (secrets shown as "set").', schema: viewSchema } },
  },
  patch: {
    tag: 'Admin', summary: 'Change a run-time provider',
    description: 'A JSON Merge Patch (RFC 7386) over the block as given: the fields to change, `null` to remove one; the result is checked as a whole. Requests in flight finish on the provider as it was. Providers of the config file are changed there (then reload).',
    params: idParamsSchema, body: z.record(z.string(), z.unknown()), bodyExample: { models: ['llama-3.3-70b-versatile', 'llama-3.1-8b-instant'] },
    responses: { 200: { description: 'The provider as it now serves.', schema: viewSchema } },
  },
  remove: {
    tag: 'Admin', summary: 'Remove a run-time provider',
    description: 'Out of routing at once; requests in flight on it finish first, then its connections close. Removed from the data directory too.',
    params: idParamsSchema, responses: { 200: { description: 'The provider was removed.', schema: z.object({ id: z.string(), deleted: z.literal(true) }) } },
  },
  get: {
    tag: 'Admin', summary: 'One provider with where it comes from',
    params: idParamsSchema, responses: { 200: { description: 'The provider (secrets shown as "set").', schema: viewSchema } },
  },
} satisfies Record<string, RouteDoc>;

/**
 * `POST /v1/providers`, `GET`/`PATCH`/`DELETE /v1/providers/:id` (admin key; the admin plugin's guard runs first).
 * `GET /v1/providers`, the list, is the info route every client may read.
 */
export function providerAdminRoutes(registry: ProviderRegistry): FastifyPluginAsync {
  return async (app) => {
    app.post('/v1/providers', { config: { doc: docs.add } }, async (request, reply) => reply.code(201).send(await registry.add(request.body)));

    app.get('/v1/providers/:id', { config: { doc: docs.get } }, async (request) => {
      const { id } = request.params as { id: string };
      const view = registry.view(id);
      if (!view) throw new GatewayError('provider_not_found', `No provider "${id}" on this node.`);
      return view;
    });

    app.patch('/v1/providers/:id', { config: { doc: docs.patch } }, async (request) => registry.patch((request.params as { id: string }).id, request.body));

    app.delete('/v1/providers/:id', { config: { doc: docs.remove } }, async (request) => {
      const { id } = request.params as { id: string };
      await registry.remove(id);
      return { id, deleted: true as const };
    });
  };
}
