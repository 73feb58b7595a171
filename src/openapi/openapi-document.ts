import { z } from 'zod';
import { ERROR_CODES } from '../errors/index.js';
import { VERSION } from '../version.js';
import { OPENAPI_TAGS, errorBodySchema, type RouteAccess, type RouteDoc } from './route-doc.js';

/** One route as the app registered it. */
export interface DocumentedRoute {
  method: string;
  url: string;
  access: RouteAccess;
  doc?: RouteDoc;
}

type JsonSchema = Record<string, unknown>;
type SchemaIo = 'input' | 'output';

const SECURITY: Record<RouteAccess, Array<Record<string, string[]>>> = {
  open: [],
  // Clients authenticate with an access token or API key, as a bearer token or in the header their SDK uses.
  client: [{ bearer: [] }, { apiKeyHeader: [] }, { googApiKey: [] }, {}],
  admin: [{ adminKey: [] }],
};

/** fastify's `/v1/admin/tokens/:id` as OpenAPI's `/v1/admin/tokens/{id}`; a `*` wildcard becomes `{<wildcard>}`. */
export function openApiPath(url: string, wildcard = 'path'): string {
  return url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}').replace(/\*$/, `{${wildcard}}`);
}

/**
 * Converts zod schemas to JSON Schema 2020-12 (the dialect of OpenAPI 3.1) and keeps the definitions a schema
 * shares or recurses through (`$defs`) as named components: inside an OpenAPI document `#/$defs/…` would resolve
 * against the document, not the schema.
 */
class SchemaConverter {
  readonly components: Record<string, JsonSchema> = {};
  #next = 0;

  convert(schema: z.ZodType, io: SchemaIo): JsonSchema {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
    delete json.$schema;
    const defs = json.$defs as Record<string, JsonSchema> | undefined;
    if (!defs) return json;
    delete json.$defs;
    const names = new Map<string, string>();
    for (const id of Object.keys(defs)) names.set(`#/$defs/${id}`, `#/components/schemas/Def${this.#next++}`);
    const rewrite = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(rewrite);
      if (node === null || typeof node !== 'object') return node;
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, key === '$ref' && typeof value === 'string' ? names.get(value) ?? value : rewrite(value)]));
    };
    for (const [id, def] of Object.entries(defs)) this.components[names.get(`#/$defs/${id}`)!.split('/').pop()!] = rewrite(def) as JsonSchema;
    return rewrite(json) as JsonSchema;
  }
}

/** Path or query parameters from an object schema: one entry per property, required as the schema says. */
function parameters(converter: SchemaConverter, schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const json = converter.convert(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function operationId(method: string, url: string): string {
  const words = url.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1)));
  return `${method.toLowerCase()}${words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}`;
}

function operation(converter: SchemaConverter, route: DocumentedRoute & { doc: RouteDoc }): JsonSchema {
  const { doc } = route;
  const pathNames = [...openApiPath(route.url, doc.wildcard).matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const pathParams = doc.params
    ? parameters(converter, doc.params, 'path')
    : pathNames.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
  const headerParams = Object.entries(doc.headers ?? {}).map(([name, h]) => ({ name, in: 'header', required: h.required ?? false, description: h.description, schema: { type: 'string' } }));
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(doc.responses)) {
    const content: Record<string, unknown> = {};
    if (response.schema) {
      content[response.contentType ?? 'application/json'] = {
        schema: converter.convert(response.schema, 'output'),
        ...(response.example !== undefined ? { example: response.example } : {}),
      };
    }
    for (const [type, schema] of Object.entries(response.alternatives ?? {})) content[type] = { schema: converter.convert(schema, 'output') };
    responses[status] = { description: response.description, ...(Object.keys(content).length ? { content } : {}) };
  }
  responses.default = { $ref: '#/components/responses/Error' };
  return {
    operationId: operationId(route.method, route.url),
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: [doc.tag],
    security: SECURITY[route.access],
    ...(pathParams.length + headerParams.length + (doc.query ? 1 : 0) > 0
      ? { parameters: [...pathParams, ...parameters(converter, doc.query, 'query'), ...headerParams] }
      : {}),
    ...(doc.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: converter.convert(doc.body, 'input'), ...(doc.bodyExample !== undefined ? { example: doc.bodyExample } : {}) } },
          },
        }
      : {}),
    responses,
  };
}

/**
 * The OpenAPI 3.1 document of a node: every documented route it registered (client APIs, operator, admin, records,
 * analytics, mesh, ledger), with the security each route's scope applies. Routes without a `doc` are left out;
 * the OpenAPI test fails on any.
 */
export function buildOpenApiDocument(routes: DocumentedRoute[]): JsonSchema {
  const converter = new SchemaConverter();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (!route.doc) continue;
    const path = openApiPath(route.url, route.doc.wildcard);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(converter, route as DocumentedRoute & { doc: RouteDoc });
  }
  const codes = Object.keys(ERROR_CODES);
  return {
    openapi: '3.1.1',
    info: {
      title: 'meshgate',
      version: VERSION,
      description:
        'A self-hostable LLM gateway: OpenAI-, Anthropic- and Gemini-compatible APIs in front of your providers and a ' +
        'libp2p mesh of peers. Client routes take an access token or API key; operator routes take the admin key ' +
        '(`Authorization: Bearer sk-meshgate-…`). CORS preflights (`OPTIONS` on any path) are answered for allowed origins.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/' }],
    tags: Object.entries(OPENAPI_TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas: { Error: converter.convert(errorBodySchema, 'output'), ...converter.components },
      responses: {
        Error: {
          description: `An error in the client's wire format (OpenAI's shown); \`error.code\` is one of: ${codes.join(', ')}.`,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An access token (JWT) or API key: `Authorization: Bearer …`.' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'Access token or API key, as the Anthropic SDK sends it.' },
        googApiKey: { type: 'apiKey', in: 'header', name: 'x-goog-api-key', description: 'Access token or API key, as the Gemini SDK sends it.' },
        adminKey: { type: 'http', scheme: 'bearer', description: 'The admin key of this node (`sk-meshgate-…`).' },
      },
    },
  };
}
