import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { badRequest, notFound } from '../errors/index.js';
import type { AdminGuard } from './admin-guard.js';
import { jtiSchema, TokenClaimsError } from './access-token.js';
import type { TokenAdmin } from './token-admin.js';

const tokenIdParamsSchema = z.object({ id: jtiSchema });

/**
 * The admin API for access tokens: POST (mint), GET (list with usage), DELETE (revoke). Every route is guarded by the
 * admin key in this plugin's own hook, so registering it anywhere cannot leave it open. Bodies are validated with
 * the same zod schema the library and CLI use; errors are GatewayErrors for the app's error handler.
 */
export function adminRoutes(tokens: TokenAdmin, guard: AdminGuard): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', async (request) => {
      guard.authorize(request.headers);
    });

    app.post('/v1/admin/tokens', async (request, reply) => {
      const body = request.body ?? {};
      if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a JSON object of token claims.');
      try {
        const minted = await tokens.mint(body);
        return reply.code(201).send(minted);
      } catch (err) {
        if (err instanceof TokenClaimsError) throw badRequest(err.message, undefined, 'invalid_claims');
        throw err;
      }
    });

    app.get('/v1/admin/tokens', async () => ({ object: 'list', data: tokens.list() }));

    app.get('/v1/admin/tokens/:id', async (request) => {
      const { id } = parseParams(request.params);
      const token = tokens.get(id);
      if (!token) throw notFound(`No token with id "${id}" is known to this gateway.`, 'token_not_found');
      return token;
    });

    app.delete('/v1/admin/tokens/:id', async (request) => {
      const { id } = parseParams(request.params);
      return { ...(await tokens.revoke(id)), revoked: true };
    });
  };
}

function parseParams(params: unknown): { id: string } {
  const parsed = tokenIdParamsSchema.safeParse(params);
  if (!parsed.success) throw badRequest(`The token id ${parsed.error.issues[0]?.message ?? 'is invalid'}.`, 'id', 'invalid_token_id');
  return parsed.data;
}
