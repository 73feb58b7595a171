import { z } from 'zod';
import { badRequest } from '../errors/index.js';
import type { CanonicalRequest } from '../formats/canonical.js';
import type { Capability, RequestNeeds } from '../routing/index.js';
import type { GatewayRequest } from './types.js';

/** The `meshgate` body field: the gateway's own options, never sent upstream. */
const meshgateFieldSchema = z.object({ profile: z.string().min(1).max(64).optional() }).strict();

/**
 * Takes the `meshgate` field out of a client body (so no provider sees it) and reads the profile it names; a
 * profile from the `x-meshgate-profile` header (already on the request) wins over the body's.
 */
export function takeRoutingOptions(req: GatewayRequest): GatewayRequest {
  if (!Object.hasOwn(req.body, 'meshgate')) return req;
  const { meshgate, ...body } = req.body;
  const parsed = meshgateFieldSchema.safeParse(meshgate);
  if (!parsed.success) throw badRequest('`meshgate` must be an object with at most `profile` (a profile id).', 'meshgate');
  const profile = req.profile ?? parsed.data.profile;
  return { ...req, body, ...(profile ? { profile } : {}) };
}

/** What the request needs from a target (the Filter layer's input), from its canonical form and the estimate. */
export function needsOf(req: GatewayRequest, canonical: CanonicalRequest | undefined, estimate: { inputTokens: number; maxOutputTokens: number }): RequestNeeds {
  const capabilities: Capability[] = [];
  if (canonical?.tools?.length) capabilities.push('tools');
  if (canonical?.messages.some((m) => m.content.some((p) => p.type === 'image'))) capabilities.push('images');
  if (canonical?.responseFormat?.type === 'json_schema') capabilities.push('json_schema');
  // One literal with every key (undefined when the request sets no limit): no spread of a conditional part per request,
  // and one shape for the filter layer to read.
  return { operation: req.operation, inputTokens: estimate.inputTokens, maxOutputTokens: canonical?.maxTokens, capabilities };
}
