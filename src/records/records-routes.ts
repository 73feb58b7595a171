import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../errors/index.js';
import { EXPORT_CONTENT_TYPES, EXPORT_FORMATS } from './record-export.js';
import { recordFiltersSchema } from './record-filters.js';
import type { RecordStore } from './record-store.js';
import { labelSchema } from './usage-record.js';
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
    app.get('/v1/stats', { exposeHeadRoute: false }, async (request) => records.stats(parseParams(statsQuerySchema, request.query)));

    app.get('/v1/records', async (request) => listPage(parseParams(listQuerySchema, request.query)));

    app.get('/v1/records/export', { exposeHeadRoute: false }, async (request, reply) => {
      const { format, ...filters } = parseParams(exportQuerySchema, request.query);
      return reply
        .header('content-type', EXPORT_CONTENT_TYPES[format])
        .header('content-disposition', `attachment; filename="meshgate-records.${format}"`)
        .send(Readable.from(records.export(filters, format)));
    });

    app.get('/v1/projects', async (request) => {
      const { active_since_mins } = parseParams(projectsQuerySchema, request.query);
      return { object: 'list', data: await records.projects(active_since_mins) };
    });

    app.get('/v1/projects/:id/records', async (request) => {
      const { id } = parseParams(projectParamsSchema, request.params);
      return listPage({ ...parseParams(projectRecordsQuerySchema, request.query), project: id });
    });
  };
}
