import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteDoc } from '../openapi/index.js';
import type { GatewayMetrics } from './gateway-metrics.js';

const metricsDoc: RouteDoc = {
  tag: 'Operator',
  summary: 'Prometheus metrics',
  responses: { 200: { description: 'The Prometheus text exposition format.', contentType: 'text/plain; version=0.0.4', schema: z.string() } },
};

/** GET /metrics in the Prometheus text format (https://prometheus.io/docs/instrumenting/exposition_formats/). */
export function metricsRoute(metrics: GatewayMetrics): FastifyPluginAsync {
  return async (app) => {
    app.get('/metrics', { config: { doc: metricsDoc } }, async (_request, reply) => reply.header('content-type', metrics.registry.contentType).send(await metrics.text()));
  };
}
