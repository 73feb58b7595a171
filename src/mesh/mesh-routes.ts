import type { FastifyPluginAsync } from 'fastify';
import type { MeshNode } from './mesh-node.js';

/**
 * `GET /v1/mesh`: this node (peer id, addresses, its own record) and the peers it knows, with what they serve,
 * the capacity they advertise, and the score and state this node measured. Registered by the HTTP app inside its
 * authenticated API plugin.
 */
export function meshRoutes(mesh: MeshNode): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/mesh', async () => mesh.status());
  };
}
