import { z } from 'zod';
import { analyticsConfigSchema } from '../analytics/analytics-config.js';
import { authConfigSchema, keyMapSchema } from '../auth/auth-config.js';
import { cacheConfigSchema } from '../cache/cache-config.js';
// From config.js, not the mesh index: the config must load without pulling in libp2p.
import { meshConfigSchema } from '../mesh/config.js';
import { pricingConfigSchema } from '../pricing/index.js';
import { recordsConfigSchema } from '../records/index.js';
import { responsesConfigSchema } from '../responses/responses-config.js';
import { sanitizationConfigSchema } from '../sanitize/index.js';
import { signalsConfigSchema } from '../signals/signal-schema.js';
import { stateConfigSchema } from '../state/state-config.js';
import { federationConfigSchema } from '../federation/federation-config.js';
import { coreConfigShape } from '../core-config/index.js';
import { PEER_TARGET, modelsConfigSchema } from '../routing/config.js';
import { SHIPPED_PROFILE_IDS } from '../routing/profiles.js';

/**
 * `[auth] public = true|false` (the gateway-core spelling) is accepted as shorthand for `mode = "public"` /
 * `mode = "token"`; `mode` is the full form (public | token | key, or a list).
 */
const authSection = z.preprocess((raw) => {
  if (raw === null || typeof raw !== 'object' || !('public' in raw)) return raw;
  const { public: isPublic, ...rest } = raw as { public: unknown; mode?: unknown };
  if (typeof isPublic !== 'boolean' || 'mode' in rest) return raw; // let the strict schema name the problem
  return { ...rest, mode: isPublic ? 'public' : 'token' };
}, authConfigSchema.prefault({}));

/** The whole config file. Each section's schema lives with the module that owns its meaning. */
export const configSchema = z
  .object({
    ...coreConfigShape,
    auth: authSection.prefault({}),
    key_map: keyMapSchema,
    sanitization: sanitizationConfigSchema.prefault({}),
    pricing: pricingConfigSchema,
    records: recordsConfigSchema.prefault({}),
    responses: responsesConfigSchema.prefault({}),
    cache: cacheConfigSchema.prefault({}),
    signals: signalsConfigSchema.prefault({}),
    mesh: meshConfigSchema.prefault({}),
    analytics: analyticsConfigSchema.prefault({}),
    /** `[[models]]`: groups (a name with targets and a strategy) and aliases. */
    models: modelsConfigSchema,
    state: stateConfigSchema.prefault({}),
    federation: federationConfigSchema.prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.providers.forEach((provider, index) => {
      if (seen.has(provider.id)) ctx.addIssue({ code: 'custom', path: ['providers', index, 'id'], message: `duplicate provider id "${provider.id}"` });
      seen.add(provider.id);
    });
    const profiles = new Set([...SHIPPED_PROFILE_IDS, ...Object.keys(config.routing.profiles)]);
    config.models.forEach((entry, index) => {
      for (const [t, target] of (entry.targets ?? []).entries()) {
        if (target.provider !== PEER_TARGET && !seen.has(target.provider)) {
          ctx.addIssue({ code: 'custom', path: ['models', index, 'targets', t, 'provider'], message: `model "${entry.name}": unknown provider "${target.provider}"` });
        }
      }
      if (entry.profile && !profiles.has(entry.profile)) ctx.addIssue({ code: 'custom', path: ['models', index, 'profile'], message: `model "${entry.name}": unknown profile "${entry.profile}"` });
      if (entry.alias_of && entry.alias_of === entry.name) ctx.addIssue({ code: 'custom', path: ['models', index, 'alias_of'], message: `alias "${entry.name}" names itself` });
    });
    if (config.federation.trusted_gateways.length > 0 && !config.mesh.enabled) {
      ctx.addIssue({ code: 'custom', path: ['federation', 'trusted_gateways'], message: 'needs mesh.enabled = true (quota is reserved at the issuer over the mesh)' });
    }
  });

export type Config = z.infer<typeof configSchema>;
