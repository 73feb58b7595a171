import type { Profile } from './config.js';
import type { PricingRules, RequestNeeds, Target, TargetFacts } from './types.js';

type Priced = Pick<TargetFacts, 'inputPrice' | 'outputPrice'>;

/** Why a target was dropped; `rule` marks the credential's pricing rules (a 403 when they drop everything). */
export interface DropReason {
  code: 'context_window' | 'max_output' | 'capability' | 'price_rule' | 'profile_provider' | 'profile_region' | 'profile_local_only' | 'profile_max_price' | 'unusable';
  message: string;
}

const price = (usd: number | undefined) => (usd === undefined ? 'unknown' : `$${usd}/MTok`);

/**
 * Layer 2, filter: the reasons a target cannot take this request — what the request needs, what the credential's
 * pricing rules allow, and the profile's hard constraints. Circuit state is not a reason: an open target stays,
 * ranked last, so failover can still use it in panic mode.
 */
export function dropReasons(target: Target, facts: TargetFacts, needs: RequestNeeds, rules: PricingRules, profile: Profile | undefined): DropReason[] {
  const reasons: DropReason[] = [];
  if (facts.contextWindow !== undefined && needs.inputTokens > facts.contextWindow) {
    reasons.push({ code: 'context_window', message: `about ${needs.inputTokens} input tokens exceed its context window of ${facts.contextWindow}` });
  }
  if (needs.maxOutputTokens !== undefined && facts.maxOutputTokens !== undefined && needs.maxOutputTokens > facts.maxOutputTokens) {
    reasons.push({ code: 'max_output', message: `max output ${needs.maxOutputTokens} exceeds its limit of ${facts.maxOutputTokens}` });
  }
  if (facts.supports && (needs.capabilities.length || profile?.require?.length)) {
    const required = [...new Set([...needs.capabilities, ...(profile?.require ?? [])])];
    const missing = required.filter((c) => !facts.supports!.includes(c));
    if (missing.length) reasons.push({ code: 'capability', message: `does not support ${missing.join(', ')}` });
  }

  const priced = hasPriceRules(rules, profile) ? priceReasons(facts, rules, profile) : NO_REASONS;
  for (const r of priced) if (r.code === 'price_rule') reasons.push(r);

  if (profile) {
    if (profile.providers && (target.peer || !profile.providers.includes(target.provider))) {
      reasons.push({ code: 'profile_provider', message: `profile "${profile.id}" allows providers ${profile.providers.join(', ')} only` });
    }
    if (profile.regions && !(facts.region !== undefined && profile.regions.includes(facts.region))) {
      reasons.push({ code: 'profile_region', message: `region ${facts.region ?? 'unknown'} is not one of profile "${profile.id}"'s (${profile.regions.join(', ')})` });
    }
    if (profile.local_only && target.peer) reasons.push({ code: 'profile_local_only', message: `profile "${profile.id}" is local only` });
  }
  for (const r of priced) if (r.code === 'profile_max_price') reasons.push(r);
  return reasons;
}

const NO_REASONS: readonly DropReason[] = [];

/** Whether the credential or the profile has a price rule at all (most requests have none: no price test to run). */
export const hasPriceRules = (rules: PricingRules, profile: Profile | undefined): boolean =>
  Boolean(rules.freeOnly) || rules.maxInputPrice !== undefined || rules.maxOutputPrice !== undefined || profile?.max_price !== undefined;

/**
 * Whether a price passes the credential's pricing rules and the profile's `max_price` — the same test the filter
 * applies to a target, for one peer behind the mesh target (only peers whose advert passes are forwarded to).
 */
export function priceAllows(price: Priced, rules: PricingRules, profile: Profile | undefined): boolean {
  return priceReasons(price, rules, profile).length === 0;
}

/** The pricing rules' and the profile's `max_price` reasons against a price (unknown fails every rule). */
function priceReasons(facts: Priced, rules: PricingRules, profile: Profile | undefined): DropReason[] {
  const reasons: DropReason[] = [];
  const known = facts.inputPrice !== undefined && facts.outputPrice !== undefined;
  if (rules.freeOnly && !(known && facts.inputPrice === 0 && facts.outputPrice === 0)) {
    reasons.push({ code: 'price_rule', message: `the credential allows free models only (input ${price(facts.inputPrice)}, output ${price(facts.outputPrice)})` });
  }
  if (rules.maxInputPrice !== undefined && !(facts.inputPrice !== undefined && facts.inputPrice <= rules.maxInputPrice)) {
    reasons.push({ code: 'price_rule', message: `input price ${price(facts.inputPrice)} is above the credential's max_input_price of $${rules.maxInputPrice}/MTok` });
  }
  if (rules.maxOutputPrice !== undefined && !(facts.outputPrice !== undefined && facts.outputPrice <= rules.maxOutputPrice)) {
    reasons.push({ code: 'price_rule', message: `output price ${price(facts.outputPrice)} is above the credential's max_output_price of $${rules.maxOutputPrice}/MTok` });
  }

  if (profile?.max_price !== undefined && !(known && Math.max(facts.inputPrice!, facts.outputPrice!) <= profile.max_price)) {
    reasons.push({ code: 'profile_max_price', message: `price (input ${price(facts.inputPrice)}, output ${price(facts.outputPrice)}) is above profile "${profile.id}"'s max_price of $${profile.max_price}/MTok` });
  }
  return reasons;
}
