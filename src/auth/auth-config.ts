import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Secret } from '../core/index.js';
import { accessRulesShape, domainPatternSchema, type AccessRules } from '../policy/index.js';
import { SECRET_KEY_PREFIX } from './admin-key.js';
import { TOKEN_PREFIX } from './access-token.js';

/**
 * Config sections owned by auth/: `[auth]` and `[key_map.<key>]`. The file is snake_case, so the limit fields are
 * written `ip_quota`, `allowed_countries`, `blocked_countries` there and mapped onto the same AccessRules an access
 * token carries (`ipQuota`, `allowedCountries`, …). Secrets come out wrapped in Secret.
 */

export const ACCESS_MODES = ['public', 'token', 'key'] as const;
const accessModeSchema = z.enum(ACCESS_MODES);
export type AccessMode = z.infer<typeof accessModeSchema>;

const configRulesShape = {
  domains: accessRulesShape.domains,
  requests: accessRulesShape.requests,
  tokens: accessRulesShape.tokens,
  ip_quota: accessRulesShape.ipQuota,
  cost: accessRulesShape.cost,
  allowed_countries: accessRulesShape.allowedCountries,
  blocked_countries: accessRulesShape.blockedCountries,
  models: accessRulesShape.models,
  profile: accessRulesShape.profile,
  max_input_price: accessRulesShape.maxInputPrice,
  max_output_price: accessRulesShape.maxOutputPrice,
  free_only: accessRulesShape.freeOnly,
};
type ConfigRules = { [K in keyof typeof configRulesShape]?: z.output<(typeof configRulesShape)[K]> };

function toAccessRules(rules: ConfigRules): AccessRules {
  const { ip_quota, allowed_countries, blocked_countries, max_input_price, max_output_price, free_only, ...same } = rules;
  return {
    ...same,
    ...(max_input_price !== undefined ? { maxInputPrice: max_input_price } : {}),
    ...(max_output_price !== undefined ? { maxOutputPrice: max_output_price } : {}),
    ...(free_only !== undefined ? { freeOnly: free_only } : {}),
    ...(ip_quota ? { ipQuota: ip_quota } : {}),
    ...(allowed_countries ? { allowedCountries: allowed_countries } : {}),
    ...(blocked_countries ? { blockedCountries: blocked_countries } : {}),
  };
}

const rulesSchema = z.object(configRulesShape).strict().transform(toAccessRules);

export const authConfigSchema = z
  .object({
    /** Who may call the API: anyone (public; IP quotas still apply), access-token holders, virtual-key holders, or a list. */
    mode: z
      .union([accessModeSchema, z.array(accessModeSchema).min(1)])
      .default('public')
      .transform((mode) => [...new Set(Array.isArray(mode) ? mode : [mode])]),
    /** `sk-meshgate-…`, usually "${MESHGATE_ADMIN_KEY}"; absent → read from or generated into <data>/admin.key. */
    admin_key: z
      .string()
      .transform((value) => new Secret(value))
      .optional(),
    /** Limits for requests admitted in public mode (per-IP quota, geo rules, models, …). */
    public_limits: rulesSchema.default({}),
    /** What geo rules do with an address the country database does not know (private ranges, new allocations). */
    unknown_country: z.enum(['allow', 'deny']).default('allow'),
    /** A MaxMind GeoLite2/GeoIP2 Country .mmdb to use instead of the bundled database. */
    geo_db: z.string().min(1).optional(),
    /** Tolerance for exp/nbf against a skewed clock (RFC 8725 §3.10 leaves it to the verifier; keep it small). */
    clock_skew_seconds: z.number().int().min(0).max(300).default(30),
    /** Origins whose CORS preflight is answered in token/key mode in addition to the domains of known tokens. */
    cors_origins: z.array(domainPatternSchema).default([]),
  })
  .strict();
export type AuthConfig = z.output<typeof authConfigSchema>;

export interface VirtualKey {
  /** `vk_` + 12 hex digits of SHA-256(client key): names the key in quotas, records and logs without revealing it. */
  id: string;
  label: string;
  key: Secret;
  /** Provider id → that provider's API key, used instead of the provider's configured key. */
  providerKeys: Map<string, Secret>;
  rules: AccessRules;
}

export function virtualKeyId(clientKey: string): string {
  return `vk_${createHash('sha256').update(clientKey).digest('hex').slice(0, 12)}`;
}

const virtualKeyEntrySchema = z
  .object({
    /** The client's bearer key; absent → the table name is the key. Prefer `key = "${TEAM_KEY}"` to keep it out of the file. */
    key: z.string().optional(),
    label: z.string().min(1).max(100),
    /** Provider id → API key for that provider. */
    providers: z.record(z.string(), z.string().min(1)).default({}),
    ...configRulesShape,
  })
  .strict();

/**
 * `[key_map.<key>]` tables. Validation messages name the entry by its label, never by its key.
 */
export const keyMapSchema = z
  .record(z.string().min(1), virtualKeyEntrySchema)
  .default({})
  .superRefine((entries, ctx) => {
    const seen = new Set<string>();
    for (const [name, entry] of Object.entries(entries)) {
      const clientKey = entry.key ?? name;
      const where = `key_map entry "${entry.label}"`;
      if (clientKey.length < 16) ctx.addIssue({ code: 'custom', message: `${where}: the client key must be at least 16 characters` });
      if (clientKey.startsWith(SECRET_KEY_PREFIX) || clientKey.startsWith(TOKEN_PREFIX)) {
        ctx.addIssue({ code: 'custom', message: `${where}: the client key must not start with "${SECRET_KEY_PREFIX}" or "${TOKEN_PREFIX}"` });
      }
      if (seen.has(clientKey)) ctx.addIssue({ code: 'custom', message: `${where}: the same client key is used by another entry` });
      seen.add(clientKey);
    }
  })
  .transform((entries): VirtualKey[] =>
    Object.entries(entries).map(([name, { key, label, providers, ...rules }]) => {
      const clientKey = key ?? name;
      return {
        id: virtualKeyId(clientKey),
        label,
        key: new Secret(clientKey),
        providerKeys: new Map(Object.entries(providers).map(([provider, value]) => [provider, new Secret(value)])),
        rules: toAccessRules(rules),
      };
    }),
  );
export type KeyMap = z.output<typeof keyMapSchema>;
