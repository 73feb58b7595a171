import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteDoc } from '../openapi/index.js';
import type { Federation } from './federation.js';

const statusSchema = z.object({
  gateway_id: z.string().nullable().describe('This gateway\'s id (the mg-{id}. of its tokens).'),
  public_key: z.string().nullable().describe('Its token-signing public key, pk-meshgate-… (what a trusting operator may pin).'),
  trusted: z.array(z.object({
    gateway_id: z.string(),
    pinned_key: z.string().nullable(),
    nodes: z.array(z.string()).describe('Peer ids whose live gateway record names this gateway now (where its tokens\' quota is reserved).'),
  })),
  open_reservations: z.number().int().describe('Reservations of this gateway\'s tokens held open here for serving nodes.'),
  offline_budget: z.number().int(),
});
const doc: RouteDoc = { tag: 'Mesh', summary: 'Federation: this gateway, the gateways it trusts and their known nodes', responses: { 200: { description: 'Federation status.', schema: statusSchema } } };

/** `GET /v1/mesh/federation` (operator API): what federated access looks like from this node now. */
export function federationRoutes(federation: Federation): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/mesh/federation', { config: { doc } }, async () => federation.status());
  };
}
