import type { FastifyPluginAsync } from 'fastify';
import type { RecordStore } from './record-store.js';
import { parseParams } from './query-params.js';
import { OVERVIEW_WINDOWS, usageOverview, usageOverviewQuerySchema, windowRange } from './usage-overview.js';

/**
 * GET /v1/usage/overview?window=hour|day|month&top=N — the portal's overview, top lists (models, providers,
 * projects, sources, principals, peers, client addresses, countries) and latency profiles, read from the usage
 * buckets, so it costs the same whatever the number of records. Operator route (registered in the admin scope).
 */
export function usageRoutes(records: RecordStore, now: () => number = Date.now): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/usage/overview', { exposeHeadRoute: false }, async (request) => {
      const { window, top } = parseParams(usageOverviewQuerySchema, request.query);
      const range = windowRange(window, now());
      const buckets = await records.rollups(OVERVIEW_WINDOWS[window].granularity, range.from, range.to);
      return usageOverview(window, range, buckets, top);
    });
  };
}
