import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteDoc } from '../openapi/index.js';
import type { MeshNode } from './mesh-node.js';

const peerSchema = z.looseObject({
  peerId: z.string(),
  state: z.enum(['connected', 'known', 'banned']),
  addresses: z.array(z.string()),
  models: z.array(z.looseObject({ id: z.string() })),
  capacity: z.looseObject({}).optional(),
  version: z.string().optional(),
  recordExpiresAt: z.number().int().optional(),
  score: z.number(),
  stats: z.looseObject({}).optional().describe('What this node measured of the peer.'),
  bannedUntil: z.number().int().optional(),
});
const meshStatusSchema = z.looseObject({
  peerId: z.string(),
  addresses: z.array(z.string()),
  forward: z.string(),
  maxHops: z.number().int(),
  inFlight: z.number().int(),
  record: z.object({ seq: z.number().int(), expiresAt: z.number().int(), models: z.number().int() }).optional(),
  connections: z.number().int(),
  peers: z.array(peerSchema),
});
const meshDoc: RouteDoc = { tag: 'Mesh', summary: 'This node in the mesh and the peers it knows', responses: { 200: { description: 'Mesh status.', schema: meshStatusSchema } } };

/**
 * `GET /v1/mesh`: this node (peer id, addresses, its own record) and the peers it knows, with what they serve,
 * the capacity they advertise, and the score and state this node measured. Registered by the HTTP app inside its
 * authenticated API plugin.
 */
export function meshRoutes(mesh: MeshNode): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/mesh', { config: { doc: meshDoc } }, async () => mesh.status());
  };
}
