import { GatewayError } from '../errors/index.js';
import type { Profile, Strategy } from './config.js';
import { candidatesFor } from './candidates.js';
import { dropReasons, type DropReason } from './filter.js';
import { rankTargets } from './rank.js';
import { scoreTargets, type NormalisedSignals, type ScoreInput } from './score.js';
import type { MeasuredSignals, PricingRules, RequestNeeds, RoutingEnvironment, Target, TargetFacts } from './types.js';

export interface RouteInput {
  model: string;
  needs: RequestNeeds;
  rules: PricingRules;
  profile?: Profile;
  /** Source of randomness for `weighted` (injected so tests are exact). */
  random?: () => number;
}

export interface PlannedTarget {
  target: Target;
  facts: TargetFacts;
  measured: MeasuredSignals;
  score: number;
  signals: NormalisedSignals;
}

/** The engine's answer: the attempt plan and what each layer did (the explain route shows it as is). */
export interface RoutePlan {
  requested: string;
  name: string;
  group?: string;
  profile?: string;
  strategy: Strategy;
  candidates: Target[];
  dropped: Array<{ target: Target; reasons: DropReason[] }>;
  /** Kept targets in attempt order: local providers first, then the mesh (`peer:*`), open circuits last. */
  plan: PlannedTarget[];
}

/** The strategy in force: the request's profile, else the group's, else the config order. */
export function strategyOf(profile: Profile | undefined, groupStrategy: Strategy | undefined): Strategy {
  return profile?.strategy ?? groupStrategy ?? 'ordered';
}

/**
 * The routing engine: candidates → filter → score → rank → attempt plan. Pure: everything it reads about the node comes
 * through `env` as a snapshot, so one request's plan depends only on its inputs (and `random` for `weighted`).
 */
export function planRoute(input: RouteInput, env: RoutingEnvironment): RoutePlan {
  const { needs, rules, profile } = input;
  const set = candidatesFor(input.model, needs.operation, env);
  const dropped: RoutePlan['dropped'] = [];
  for (const { target, reason } of set.unusable) dropped.push({ target, reasons: [{ code: 'unusable', message: reason }] });
  const inputs: Array<ScoreInput & { target: Target }> = [];
  for (const target of set.candidates) {
    const facts = env.facts(target);
    const reasons = dropReasons(target, facts, needs, rules, profile);
    if (reasons.length) dropped.push({ target, reasons });
    else inputs.push({ target, facts, measured: env.signals(target), quality: env.quality.scoreOf(target, profile?.id) });
  }
  const strategy = strategyOf(profile, set.group?.strategy);
  const scores = scoreTargets(inputs, profile);
  // The plan's entries are what the rank layer orders: built once, in the shape the explain route shows.
  const planned: PlannedTarget[] = new Array(inputs.length);
  for (let n = 0; n < inputs.length; n++) {
    const { target, facts, measured } = inputs[n]!;
    planned[n] = { target, facts, measured, score: scores[n]!.score, signals: scores[n]!.signals };
  }
  // Built key by key in the order the explain route shows (optional ones only when set), not from spreads of
  // temporary objects: one object, one shape per kind of plan.
  const plan = { requested: set.requested, name: set.name } as RoutePlan;
  if (set.group) plan.group = set.group.name;
  if (profile) plan.profile = profile.id;
  plan.strategy = strategy;
  plan.candidates = set.candidates;
  plan.dropped = dropped;
  plan.plan = rankTargets(planned, strategy, input.random);
  return plan;
}

/**
 * The refusal for a plan that kept nothing although the name has targets: 403 when the credential's pricing rules
 * dropped every one of them, 400 otherwise; each target is named with why, in the message and in `details`.
 */
export function noEligibleTarget(plan: RoutePlan): GatewayError {
  const why = plan.dropped.map(({ target, reasons }) => `${target.key}: ${reasons.map((r) => r.message).join('; ')}`);
  const details = { dropped: plan.dropped.map(({ target, reasons }) => ({ target: target.key, reasons: reasons.map((r) => r.code) })) };
  const byPrice = plan.dropped.length > 0 && plan.dropped.every(({ reasons }) => reasons.some((r) => r.code === 'price_rule'));
  if (byPrice) return new GatewayError('price_not_allowed', `No target of '${plan.requested}' is allowed by this credential's pricing rules (${why.join(' | ')}).`, { details });
  return new GatewayError('no_eligible_target', `No target of '${plan.requested}' can serve this request (${why.join(' | ')}).`, { details });
}
