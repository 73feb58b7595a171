import { z } from 'zod';

/**
 * What the OpenAPI document says about one route, declared where the route is registered (`config: { doc }`), so
 * a route and its documentation cannot drift apart: the zod schemas named here are the ones the handler parses
 * its input with. `GET /openapi.json` is built from these (see ./openapi-document.ts); a test fails when a
 * registered route has none.
 */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** One tag (the group in the interactive docs); see OPENAPI_TAGS. */
  tag: OpenApiTag;
  /** The name the document gives a trailing `*` of the URL (`/v1/models/*` → `/v1/models/{model}`); `path` if unset. */
  wildcard?: string;
  /** Path parameters (an object schema whose keys are the `:name`s of the URL, and the wildcard's name). */
  params?: z.ZodType;
  /** Query parameters (an object schema; each key becomes one parameter). */
  query?: z.ZodType;
  /** The JSON body. */
  body?: z.ZodType;
  /** An example body; a test checks that `body` accepts it. */
  bodyExample?: unknown;
  /** Request headers the route reads, beyond the credentials. */
  headers?: Record<string, { description: string; required?: boolean }>;
  /** Successful answers by status. Errors (the shared error shape) are added for every route. */
  responses: Record<number, ResponseDoc>;
}

export interface ResponseDoc {
  description: string;
  /** Schema of the body; absent for an answer without one. */
  schema?: z.ZodType;
  /** `application/json` unless said otherwise (`text/event-stream`, `text/csv`, …). */
  contentType?: string;
  /** Other content types the same answer may come in (a streamed variant, CSV instead of JSON). */
  alternatives?: Record<string, z.ZodType>;
  example?: unknown;
}

export const OPENAPI_TAGS = {
  'Client APIs': 'Generation APIs in the OpenAI (Chat Completions, Responses), Anthropic and Gemini wire formats, stored responses, and the model list.',
  Operator: 'Health, metrics and this API description.',
  Admin: 'Access tokens, providers at run time and config reload (admin key).',
  Records: 'Usage records, stats and exports (admin key).',
  Analytics: 'SQL over usage records and questions in plain language (admin key).',
  Routing: 'The routing engine: how a request would be routed, layer by layer (admin key).',
  Mesh: 'This node in the libp2p mesh, its peers and the usage ledger.',
} as const;

export type OpenApiTag = keyof typeof OPENAPI_TAGS;

/** Who may call a route, from the scope of the app it was registered in (see ../app.ts). */
export type RouteAccess = 'open' | 'client' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's entry in the OpenAPI document. */
    doc?: RouteDoc;
  }
}

/** The error body every route may answer with (OpenAI's shape; Anthropic and Gemini clients get their own). */
export const errorBodySchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      code: z.string(),
      param: z.string().nullable(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ examples: [{ error: { message: 'The admin API needs "Authorization: Bearer sk-meshgate-…".', type: 'authentication_error', code: 'missing_admin_key', param: null } }] });

/** A JSON list answer `{object: "list", data: [...]}`. */
export const listOf = <T extends z.ZodType>(item: T) => z.object({ object: z.literal('list'), data: z.array(item) });
