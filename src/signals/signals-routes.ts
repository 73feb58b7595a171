import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../errors/index.js';
import { listOf, type RouteDoc } from '../openapi/index.js';
import { labelSchema, parseParams, timeRangeSchema } from '../records/index.js';
import type { QualitySignalService } from './quality-signals.js';
import { qualitySignalSchema, SIGNAL_KINDS, signalInputSchema } from './signal-schema.js';

const listQuerySchema = timeRangeSchema
  .extend({
    request_id: z.string().min(1).max(128).optional(),
    model: z.string().min(1).max(256).optional(),
    target: z.string().min(1).max(256).optional(),
    signal: z.enum(SIGNAL_KINDS).optional(),
    project: labelSchema.optional(),
    cursor: z.string().min(1).max(512).optional(),
    limit: z.coerce.number().int().min(1).max(1_000).default(100),
  })
  .strict();

const CURSOR = /^\d{15}!.+/;

const signalAnswerSchema = qualitySignalSchema.extend({ object: z.literal('signal'), replaced: z.boolean().describe('A previous signal about the request was replaced.') });
const groupSchema = z.object({ target: z.string(), model: z.string(), profile: z.string().nullable(), score: z.number(), weight: z.number() });

const docs = {
  post: {
    tag: 'Client APIs', summary: 'Give a quality signal about one of your requests (any, with the admin key)', body: signalInputSchema,
    bodyExample: { request_id: 'req_0123456789abcdef0123456789abcdef', signal: 'thumbs_up', score: 0.9, note: 'exactly what I needed' },
    responses: { 201: { description: 'The signal, stored.', schema: signalAnswerSchema }, 200: { description: 'The signal, replacing the request\'s previous one.', schema: signalAnswerSchema } },
  },
  list: {
    tag: 'Client APIs', summary: 'Signals about your requests (all, with the admin key), newest first', query: listQuerySchema,
    responses: { 200: { description: 'One page of signals.', schema: listOf(qualitySignalSchema).extend({ next_cursor: z.string().nullable() }) } },
  },
  summary: {
    tag: 'Records', summary: 'Decayed quality aggregates per target, model and profile (what routing reads)',
    responses: { 200: { description: 'The groups with enough weight, heaviest first.', schema: listOf(groupSchema) } },
  },
} satisfies Record<string, RouteDoc>;

function principalOf(request: FastifyRequest) {
  return request.principal ?? { kind: 'public' as const };
}

/**
 * Quality signals on the client API (inside its auth hook):
 * - POST /v1/signals {request_id, signal, score?, note?} — about one of the caller's own requests (any, for the admin)
 * - GET /v1/signals?request_id&model&target&signal&project&from&to&cursor&limit — the caller's own, newest first
 */
export function signalsRoutes(signals: QualitySignalService): FastifyPluginAsync {
  return async (app) => {
    app.post('/v1/signals', { config: { doc: docs.post } }, async (request, reply) => {
      const parsed = signalInputSchema.safeParse(request.body ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = issue.code === 'unrecognized_keys' ? issue.keys[0]! : issue.path.join('.');
        throw badRequest(issue.code === 'unrecognized_keys' ? `Unknown field "${field}".` : `Invalid field "${field}": ${issue.message}.`, field);
      }
      const { signal, replaced } = await signals.submit(principalOf(request), parsed.data);
      return reply.code(replaced ? 200 : 201).send({ object: 'signal', ...signal, replaced });
    });

    app.get('/v1/signals', { config: { doc: docs.list } }, async (request) => {
      const { cursor, limit, ...filters } = parseParams(listQuerySchema, request.query);
      const before = cursor === undefined ? undefined : Buffer.from(cursor, 'base64url').toString('utf8');
      if (before !== undefined && !CURSOR.test(before)) throw badRequest('The cursor is not one this API returned.', 'cursor', 'invalid_cursor');
      const page = await signals.list(principalOf(request), filters, limit, before);
      return { object: 'list', data: page.data, next_cursor: page.more && page.last ? Buffer.from(page.last, 'utf8').toString('base64url') : null };
    });
  };
}

/** GET /v1/signals/summary (admin): the decayed aggregates routing reads, per target, model and profile. */
export function signalsSummaryRoute(signals: QualitySignalService): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/signals/summary', { config: { doc: docs.summary } }, async () => ({ object: 'list', data: signals.aggregate.groups() }));
  };
}
