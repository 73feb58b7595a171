import type { FastifyRequest } from 'fastify';
import type { Operation, PrincipalRef, WireFormat } from '../core/index.js';
import { parseCacheMode } from '../cache/index.js';
import { badRequest } from '../errors/index.js';
import type { GatewayRequest } from '../pipeline/types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook of the API plugin. */
    principal?: PrincipalRef;
    /** Aborted when the client disconnects before the response is complete. */
    clientSignal?: AbortSignal;
    /** The client address used for per-IP quotas and geo rules (honours `server.trust_proxy`). */
    clientIp?: string;
  }
  interface FastifyContextConfig {
    /** The wire format a route speaks, so errors are answered in the client's own shape. */
    format?: WireFormat;
  }
}

const HEADER_VALUE = /^[\x20-\x7e]{1,128}$/;
const ANTHROPIC_BETA = /^[\x20-\x7e]{1,512}$/;
/** Longest model name accepted (the mesh forward frame has the same bound). */
export const MAX_MODEL_LENGTH = 256;

/**
 * `x-project` / `x-source`: free-form labels for records, bounded and printable so they are safe to store and show.
 * The caller reads the header by its own name (`headers['x-project']`): `headers[name]` here would be one keyed load
 * over three names, which V8 makes a megamorphic (hash) look-up on every request.
 */
function label(value: string | string[] | undefined, name: string): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (!HEADER_VALUE.test(value)) throw badRequest(`Header ${name} must be 1-128 printable ASCII characters.`, name);
  return value;
}

export function bodyObject(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be a JSON object.');
  return body as Record<string, unknown>;
}

export function gatewayRequest(
  request: FastifyRequest,
  init: { format: WireFormat; operation: Operation; body: Record<string, unknown>; model: unknown; stream: boolean },
): GatewayRequest {
  if (typeof init.model !== 'string' || init.model.length === 0) throw badRequest('`model` is required and must be a non-empty string.', 'model');
  // Model names are short; a long one would only cost look-ups, suggestions and memory (and cannot cross the mesh).
  if (init.model.length > MAX_MODEL_LENGTH) throw badRequest(`\`model\` is longer than ${MAX_MODEL_LENGTH} characters.`, 'model');
  const { headers } = request; // fastify's getter: read once
  const beta = headers['anthropic-beta'];
  const req: GatewayRequest = {
    id: request.id,
    format: init.format,
    operation: init.operation,
    body: init.body,
    model: init.model,
    stream: init.stream,
    signal: request.clientSignal ?? new AbortController().signal,
    principal: request.principal ?? { kind: 'public' },
    ip: request.clientIp ?? request.socket.remoteAddress,
    project: label(headers['x-project'], 'x-project'),
    source: label(headers['x-source'], 'x-source'),
    receivedAt: Date.now(),
    hop: { count: 0, visited: [] },
    // Always present (undefined when not sent), in the order they always had: keys added after the literal would give
    // the requests of one route several shapes, and cost each request a property store that grows the object.
    profile: label(headers['x-meshgate-profile'], 'x-meshgate-profile'),
    cacheMode: parseCacheMode(headers['x-meshgate-cache']),
    anthropicBeta: init.format === 'anthropic' && typeof beta === 'string' && ANTHROPIC_BETA.test(beta) ? beta : undefined,
  };
  return req;
}
