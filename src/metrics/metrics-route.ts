import type { FastifyPluginAsync } from 'fastify';
import type { GatewayMetrics } from './gateway-metrics.js';

/** GET /metrics in the Prometheus text format (https://prometheus.io/docs/instrumenting/exposition_formats/). */
export function metricsRoute(metrics: GatewayMetrics): FastifyPluginAsync {
  return async (app) => {
    app.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.registry.contentType).send(await metrics.text()));
  };
}
