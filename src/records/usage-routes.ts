import type { FastifyPluginAsync } from 'fastify';
import type { RouteDoc } from '../openapi/index.js';
import type { RecordStore } from './record-store.js';
import { parseParams } from './query-params.js';
import { OVERVIEW_WINDOWS, usageOverview, usageOverviewQuerySchema, usageOverviewSchema, windowRange } from './usage-overview.js';

export const usageOverviewDoc: RouteDoc = {
  tag: 'Records',
  summary: 'Usage overview of a window (the portal\'s aggregates)',
  description: 'Totals, a time series, p50/p95/p99 latency and TTFT, customer-impacting errors, failover saves and top lists, read from the usage buckets (minute, hour, day) rather than the records.',
  query: usageOverviewQuerySchema,
  responses: { 200: { description: 'The overview of the window.', schema: usageOverviewSchema } },
};

/**
 * GET /v1/usage/overview?window=hour|day|month&top=N — the portal's overview, top lists (models, providers,
 * projects, sources, principals, peers, client addresses, countries) and latency profiles, read from the usage
 * buckets, so it costs the same whatever the number of records. Operator route (registered in the admin scope).
 */
export function usageRoutes(records: RecordStore, now: () => number = Date.now): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/usage/overview', { exposeHeadRoute: false, config: { doc: usageOverviewDoc } }, async (request) => {
      const { window, top } = parseParams(usageOverviewQuerySchema, request.query);
      const range = windowRange(window, now());
      const buckets = await records.rollups(OVERVIEW_WINDOWS[window].granularity, range.from, range.to);
      return usageOverview(window, range, buckets, top);
    });
  };
}
