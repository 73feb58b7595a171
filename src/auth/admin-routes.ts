import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { badRequest, notFound } from '../errors/index.js';
import { listOf, type RouteDoc } from '../openapi/index.js';
import type { AdminGuard } from './admin-guard.js';
import { jtiSchema, tokenClaimsInputSchema, TokenClaimsError } from './access-token.js';
import type { TokenAdmin } from './token-admin.js';

const tokenIdParamsSchema = z.object({ id: jtiSchema });

const usageSchema = z.object({ limit: z.number(), used: z.number(), remaining: z.number(), period: z.string(), resetAt: z.number().int().nullable() });
/** What the admin API shows of a token (auth/token-status.ts): never the token text. */
const tokenStatusSchema = z.object({
  id: z.string(),
  sub: z.string().optional(),
  claims: z.record(z.string(), z.unknown()).nullable(),
  issuedAt: z.number().int().nullable(),
  notBefore: z.number().int().nullable(),
  expiresAt: z.number().int().nullable(),
  expired: z.boolean(),
  revokedAt: z.number().int().nullable(),
  source: z.string(),
  usage: z.object({ requests: usageSchema.optional(), tokens: usageSchema.optional(), cost: usageSchema.optional().describe('In USD.') }),
});
/** What the admin API shows of a virtual key (auth/token-status.ts): never the client key or its provider keys. */
const virtualKeyStatusSchema = z.object({
  id: z.string().describe('`vk_` + 12 hex digits of SHA-256 of the client key.'),
  label: z.string(),
  limits: z.record(z.string(), z.unknown()).describe('The key\'s rules as configured in [key_map].'),
  providers: z.array(z.string()).describe('Provider ids the key brings its own provider key for.'),
  usage: tokenStatusSchema.shape.usage,
});
const mintedSchema = z.object({ token: z.string().describe('Shown once; store it now.'), id: z.string(), expiresAt: z.number().int().nullable() });

const docs = {
  mint: {
    tag: 'Admin', summary: 'Mint an access token', body: tokenClaimsInputSchema,
    bodyExample: { sub: 'web app', domains: ['app.example.com'], requests: { limit: 1000, period: 'day' }, models: ['gpt-4o-mini'], expiresIn: 2_592_000_000 },
    responses: { 201: { description: 'The token (its text is never shown again).', schema: mintedSchema } },
  },
  keys: { tag: 'Admin', summary: 'Virtual keys ([key_map]) with their limits and usage', responses: { 200: { description: 'Every virtual key of the config.', schema: listOf(virtualKeyStatusSchema) } } },
  list: { tag: 'Admin', summary: 'Access tokens with their usage', responses: { 200: { description: 'Every token this node knows.', schema: listOf(tokenStatusSchema) } } },
  get: { tag: 'Admin', summary: 'One access token with its usage', params: tokenIdParamsSchema, responses: { 200: { description: 'The token.', schema: tokenStatusSchema } } },
  revoke: { tag: 'Admin', summary: 'Revoke an access token', params: tokenIdParamsSchema, responses: { 200: { description: 'The revoked token.', schema: tokenStatusSchema.extend({ revoked: z.literal(true) }) } } },
} satisfies Record<string, RouteDoc>;

/**
 * The admin API for access tokens: POST (mint), GET (list with usage), DELETE (revoke); and GET /v1/admin/keys, the
 * virtual keys of the config with their usage. Every route is guarded by the admin key in this plugin's own hook, so
 * registering it anywhere cannot leave it open. Bodies are validated with
 * the same zod schema the library and CLI use; errors are GatewayErrors for the app's error handler.
 */
export function adminRoutes(tokens: TokenAdmin, guard: AdminGuard): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', async (request) => {
      guard.authorize(request.headers);
    });

    app.post('/v1/admin/tokens', { config: { doc: docs.mint } }, async (request, reply) => {
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

    app.get('/v1/admin/tokens', { config: { doc: docs.list } }, async () => ({ object: 'list', data: await tokens.list() }));

    // Virtual keys come from the config ([key_map]); listed with their limits and usage, never their key text.
    app.get('/v1/admin/keys', { config: { doc: docs.keys } }, async () => ({ object: 'list', data: await tokens.listVirtualKeys() }));

    app.get('/v1/admin/tokens/:id', { config: { doc: docs.get } }, async (request) => {
      const { id } = parseParams(request.params);
      const token = await tokens.get(id);
      if (!token) throw notFound(`No token with id "${id}" is known to this gateway.`, 'token_not_found');
      return token;
    });

    app.delete('/v1/admin/tokens/:id', { config: { doc: docs.revoke } }, async (request) => {
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
