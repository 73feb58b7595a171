import { usdToMicros } from '../core/index.js';
import type { AccessRules } from './access-rules.js';
import { ipQuotaBucket } from './client-ip.js';
import type { QuotaCharge } from './quota-store.js';

export interface UsageEstimate {
  ip?: string;
  /** When the principal stops existing (a token's expiry): its lifetime counters may be deleted after that. */
  retainUntil?: number;
  estimatedTokens: number;
  estimatedCostMicros: number;
}

/** Whether `rules` hold any limit `quotaCharges` charges (without one, a request is charged nothing and holds nothing). */
export function chargesAnything(rules: AccessRules): boolean {
  return Boolean(rules.requests || rules.tokens || rules.cost || rules.ipQuota);
}

/**
 * The counters one request is charged against under `rules` (none unless `chargesAnything`), for the principal whose counters live in `scope`.
 * A per-IP quota without a known client address is charged to the bucket "unknown", so it still limits.
 */
export function quotaCharges(rules: AccessRules, scope: string, estimate: UsageEstimate): QuotaCharge[] {
  const charges: QuotaCharge[] = [];
  // Each limit `chargesAnything` names, and only those.
  if (rules.requests) charges.push({ scope, metric: 'requests', ...rules.requests, amount: 1 });
  if (rules.tokens) charges.push({ scope, metric: 'tokens', ...rules.tokens, amount: Math.max(0, Math.ceil(estimate.estimatedTokens)) });
  if (rules.cost) {
    charges.push({ scope, metric: 'cost', limit: usdToMicros(rules.cost.limit), period: rules.cost.period, amount: Math.max(0, Math.ceil(estimate.estimatedCostMicros)) });
  }
  if (rules.ipQuota) charges.push({ scope: `${scope}:ip:${estimate.ip ? ipQuotaBucket(estimate.ip) : 'unknown'}`, metric: 'ip', ...rules.ipQuota, amount: 1 });
  const { retainUntil } = estimate;
  return retainUntil === undefined ? charges : charges.map((charge) => ({ ...charge, retainUntil }));
}
