import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../errors/index.js';
import { listOf, type RouteDoc } from '../openapi/index.js';
import { EXPORT_CONTENT_TYPES, EXPORT_FORMATS } from './record-export.js';
import { STATS_DIMENSIONS } from './record-stats.js';
import { recordFiltersSchema } from './record-filters.js';
import type { RecordStore } from './record-store.js';
import { labelSchema, usageRecordSchema } from './usage-record.js';
import { parseParams } from './query-params.js';

const MAX_PAGE = 1_000;
const pageSchema = { cursor: z.string().min(1).max(512).optional(), limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100) };
const orderedRange = (range: { from?: number; to?: number }) => range.from === undefined || range.to === undefined || range.from < range.to;
const RANGE_MESSAGE = { message: '"from" must be before "to"', path: ['from'] };

const statsQuerySchema = recordFiltersSchema.strict().refine(orderedRange, RANGE_MESSAGE);
const listQuerySchema = recordFiltersSchema.extend(pageSchema).strict().refine(orderedRange, RANGE_MESSAGE);
const exportQuerySchema = recordFiltersSchema.extend({ format: z.enum(EXPORT_FORMATS).default('ndjson') }).strict().refine(orderedRange, RANGE_MESSAGE);
const projectsQuerySchema = z.object({ active_since_mins: z.coerce.number().int().min(1).max(525_600).optional() }).strict();
const projectRecordsQuerySchema = recordFiltersSchema.omit({ project: true }).extend(pageSchema).strict().refine(orderedRange, RANGE_MESSAGE);
const projectParamsSchema = z.object({ id: labelSchema });

const totalsSchema = z.object({
  requests: z.number().int(), errors: z.number().int(), failed_over: z.number().int(), saved_by_failover: z.number().int(), streamed: z.number().int(),
  prompt_tokens: z.number().int(), completion_tokens: z.number().int(), cached_tokens: z.number().int(),
  cost_micros: z.number().int(), cost_usd: z.number(), unpriced_requests: z.number().int(),
  avg_latency_ms: z.number().nullable(), avg_ttft_ms: z.number().nullable(),
});
const statsSchema = z.object({
  from: z.number().int().nullable(),
  to: z.number().int().nullable(),
  totals: totalsSchema,
  by: z.record(z.enum(STATS_DIMENSIONS), z.array(totalsSchema.extend({ key: z.string() }))),
});
const recordPageSchema = listOf(usageRecordSchema).extend({ next_cursor: z.string().nullable().describe('Pass as `cursor` for the next (older) page.') });
const projectSchema = z.object({ id: z.string(), first_seen: z.number().int(), last_seen: z.number().int() });

const docs = {
  stats: { tag: 'Records', summary: 'Usage totals and breakdowns (model, provider, source, project, principal, peer)', query: statsQuerySchema, responses: { 200: { description: 'Totals over the matching records.', schema: statsSchema } } },
  records: { tag: 'Records', summary: 'Usage records, newest first, cursor-paginated', query: listQuerySchema, responses: { 200: { description: 'One page of records.', schema: recordPageSchema } } },
  export: {
    tag: 'Records', summary: 'Export records (NDJSON or CSV, oldest first, streamed)', query: exportQuerySchema,
    responses: { 200: { description: 'The records, one per line.', contentType: 'application/x-ndjson', schema: z.string(), alternatives: { 'text/csv': z.string() } } },
  },
  projects: { tag: 'Records', summary: 'Projects (`x-project`) with records, optionally only recently active ones', query: projectsQuerySchema, responses: { 200: { description: 'The projects.', schema: listOf(projectSchema) } } },
  projectRecords: { tag: 'Records', summary: 'Records of one project', params: projectParamsSchema, query: projectRecordsQuerySchema, responses: { 200: { description: 'One page of the project\'s records.', schema: recordPageSchema } } },
} satisfies Record<string, RouteDoc>;

/**
 * The operator's records API: stats, records (filtered, cursor-paginated), projects, exports. Unguarded by itself:
 * the app registers it inside its admin-guarded scope.
 *
 * - GET /v1/stats?from&to&model&provider&project&source&status
 * - GET /v1/records?…filters&cursor&limit (newest first)
 * - GET /v1/records/export?…filters&format=ndjson|csv (oldest first, streamed)
 * - GET /v1/projects?active_since_mins
 * - GET /v1/projects/:id/records?…filters&cursor&limit
 *
 * `from`/`to` are epoch milliseconds or ISO 8601 date-times (`from` inclusive, `to` exclusive).
 */
export function recordsRoutes(records: RecordStore): FastifyPluginAsync {
  const listPage = async (filters: z.infer<typeof listQuerySchema>) => {
    const { cursor, limit, ...rest } = filters;
    try {
      return { object: 'list', ...(await records.list(rest, cursor, limit)) };
    } catch (err) {
      if (err instanceof RangeError) throw badRequest('The cursor is not one this API returned.', 'cursor', 'invalid_cursor');
      throw err;
    }
  };

  return async (app) => {
    // No automatic HEAD for the two routes that read whole time ranges: a HEAD would do all the work for no body.
    app.get('/v1/stats', { exposeHeadRoute: false, config: { doc: docs.stats } }, async (request) => records.stats(parseParams(statsQuerySchema, request.query)));

    app.get('/v1/records', { config: { doc: docs.records } }, async (request) => listPage(parseParams(listQuerySchema, request.query)));

    app.get('/v1/records/export', { exposeHeadRoute: false, config: { doc: docs.export } }, async (request, reply) => {
      const { format, ...filters } = parseParams(exportQuerySchema, request.query);
      return reply
        .header('content-type', EXPORT_CONTENT_TYPES[format])
        .header('content-disposition', `attachment; filename="meshgate-records.${format}"`)
        .send(Readable.from(records.export(filters, format)));
    });

    app.get('/v1/projects', { config: { doc: docs.projects } }, async (request) => {
      const { active_since_mins } = parseParams(projectsQuerySchema, request.query);
      return { object: 'list', data: await records.projects(active_since_mins) };
    });

    app.get('/v1/projects/:id/records', { config: { doc: docs.projectRecords } }, async (request) => {
      const { id } = parseParams(projectParamsSchema, request.params);
      return listPage({ ...parseParams(projectRecordsQuerySchema, request.query), project: id });
    });
  };
}
