import { createHash } from 'node:crypto';
import { canonicalJson, type WireFormat } from '../core/index.js';
import type { GatewayRequest } from '../pipeline/types.js';
import type { CacheConfig } from './cache-config.js';

/**
 * Body fields that never change the answer, per client format: how it is delivered (`stream`, `stream_options`;
 * a streamed request is served from the same entry as a non-streamed one) and labels for the caller's own
 * bookkeeping (`user`, `metadata`, OpenAI `store`, `safety_identifier`, `prompt_cache_key`). Everything else in
 * the body — model, messages, tools, sampling and output parameters, including those only a pass-through provider
 * reads — is part of the key.
 */
const DELIVERY_FIELDS: Record<WireFormat, readonly string[]> = {
  openai: ['stream', 'stream_options', 'user', 'metadata', 'store', 'safety_identifier', 'prompt_cache_key', 'service_tier'],
  anthropic: ['stream', 'metadata', 'service_tier'],
  gemini: [],
};

/**
 * Why a request cannot be answered from a stored canonical response, if it cannot: several choices (OpenAI `n`,
 * Gemini `candidateCount`) or log-probabilities, which the canonical response does not carry.
 */
export function uncacheable(req: GatewayRequest): string | undefined {
  if (req.operation !== 'chat') return 'only chat requests are cached';
  const body = req.body;
  if (req.format === 'openai') {
    if (typeof body.n === 'number' && body.n > 1) return 'n > 1';
    if (body.logprobs === true || body.top_logprobs !== undefined) return 'logprobs';
    if (body.audio !== undefined) return 'audio output';
  }
  if (req.format === 'gemini') {
    const generation = body.generationConfig as Record<string, unknown> | undefined;
    if (typeof generation?.candidateCount === 'number' && generation.candidateCount > 1) return 'candidateCount > 1';
    if (generation?.responseLogprobs === true) return 'logprobs';
  }
  return undefined;
}

/**
 * Whose entries a request may read and fill: its principal's own (a token id, a virtual key's label, a peer id, the
 * admin), or its project's when that project is configured as `shared`. Anonymous callers of a public node have no
 * identity to keep apart, so they get no cache of their own: undefined.
 */
export function cacheScope(req: GatewayRequest, config: Pick<CacheConfig, 'projects'>): string | undefined {
  if (req.project !== undefined && config.projects[req.project]?.shared) return `project\u0000${req.project}`;
  if (req.principal.id === undefined) return undefined;
  return `principal\u0000${req.principal.kind}\u0000${req.principal.id}`;
}

/**
 * The cache key of a request in `scope`: SHA-256 over the scope and the canonical JSON (RFC 8785: key order does not
 * matter) of what decides the answer — client format, operation, model, the `anthropic-beta` features asked for and
 * the body without its delivery fields. Credentials are never part of it (they are headers, and the scope names a
 * principal by id). Called only when the cache is in use for the request.
 */
export function cacheKey(req: GatewayRequest, scope: string): string {
  const dropped = new Set(DELIVERY_FIELDS[req.format]);
  const body = Object.fromEntries(Object.entries(req.body).filter(([field]) => !dropped.has(field)));
  const descriptor = { format: req.format, operation: req.operation, model: req.model, beta: req.anthropicBeta ?? null, body };
  return createHash('sha256').update(scope).update('\u0000').update(canonicalJson(descriptor)).digest('hex');
}
