import { z } from 'zod';
import { isWholeMicros } from '../core/index.js';
import { quotaPeriodSchema } from './quota-window.js';

/**
 * The rules an access token carries in its claims and a virtual key or public mode carries in the config: where it
 * may be used from, how much, from which countries and for which models. One schema, so a token, a key and the
 * public door are limited by exactly the same code.
 */

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`);

/** `myapp.com` (that host only) or `*.myapp.com` (any subdomain, not the apex). Hosts only: no scheme, port or path. */
export const domainPatternSchema = z
  .string()
  .transform((value) => value.trim().toLowerCase())
  .refine((value) => HOST.test(value), {
    message: 'must be a host name such as "myapp.com" or "*.myapp.com" (no scheme, port, path or other wildcards)',
  });

const countryCodeSchema = z
  .string()
  .transform((value) => value.trim().toUpperCase())
  .refine((value) => /^[A-Z]{2}$/.test(value), { message: 'must be an ISO 3166-1 alpha-2 country code such as "US"' });

const countLimitSchema = z
  .object({
    limit: z.number().int('must be a whole number').positive('must be at least 1').max(Number.MAX_SAFE_INTEGER),
    period: quotaPeriodSchema,
  })
  .strict();

/** USD with at most micro-dollar precision, since money is counted in integer micro-dollars. */
const costLimitSchema = z
  .object({
    limit: z
      .number()
      .positive('must be more than 0')
      .max(1_000_000_000)
      .refine(isWholeMicros, {
        message: 'must have at most 6 decimal places',
      }),
    currency: z.literal('USD').default('USD'),
    period: quotaPeriodSchema.default('lifetime'),
  })
  .strict();

const modelPatternSchema = z
  .string()
  .min(1)
  .max(200)
  .refine((value) => !value.slice(0, -1).includes('*'), { message: 'only a trailing "*" is allowed, e.g. "gpt-4o*"' });

export const accessRulesShape = {
  /** Allowed origins; absent or [] = any origin. */
  domains: z.array(domainPatternSchema).max(100).optional(),
  requests: countLimitSchema.optional(),
  tokens: countLimitSchema.optional(),
  /** Requests per visitor IP address. */
  ipQuota: countLimitSchema.optional(),
  cost: costLimitSchema.optional(),
  allowedCountries: z.array(countryCodeSchema).max(300).optional(),
  blockedCountries: z.array(countryCodeSchema).max(300).optional(),
  /** Model allowlist; exact names or a prefix ending in "*". */
  models: z.array(modelPatternSchema).max(200).optional(),
  /** Routing profile used when a request names none (see README, Routing). */
  profile: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/).optional(),
  /** Pricing rules (USD per million tokens): targets priced above them, or unpriced, are not used. */
  maxInputPrice: z.number().min(0).max(1_000_000).optional(),
  maxOutputPrice: z.number().min(0).max(1_000_000).optional(),
  /** Only targets whose known price is zero. */
  freeOnly: z.boolean().optional(),
};

export const accessRulesSchema = z.object(accessRulesShape).strict();
export type AccessRules = z.infer<typeof accessRulesSchema>;
export type CountLimit = z.infer<typeof countLimitSchema>;

export function modelAllowed(rules: AccessRules, model: string): boolean {
  if (!rules.models || rules.models.length === 0) return true;
  return rules.models.some((pattern) => (pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : model === pattern));
}

export type CountryVerdict = { allowed: true } | { allowed: false; reason: 'blocked' | 'not_allowed' | 'unknown' };

/** Geo rules: a blocked country always loses; an allowlist admits only its countries; an unknown country follows config. */
export function countryVerdict(rules: AccessRules, country: string | undefined, unknownCountry: 'allow' | 'deny'): CountryVerdict {
  const hasRules = Boolean(rules.allowedCountries?.length || rules.blockedCountries?.length);
  if (!hasRules) return { allowed: true };
  if (country === undefined) return unknownCountry === 'allow' ? { allowed: true } : { allowed: false, reason: 'unknown' };
  if (rules.blockedCountries?.includes(country)) return { allowed: false, reason: 'blocked' };
  if (rules.allowedCountries?.length && !rules.allowedCountries.includes(country)) return { allowed: false, reason: 'not_allowed' };
  return { allowed: true };
}

/** True when geo rules need the client's country (so the database is only consulted when it matters). */
export function needsCountry(rules: AccessRules): boolean {
  return Boolean(rules.allowedCountries?.length || rules.blockedCountries?.length);
}
