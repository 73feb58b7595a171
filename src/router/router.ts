import type { Operation } from '../core/index.js';
import { GatewayError } from '../errors/index.js';
import type { Provider } from '../providers/index.js';
import {
  NO_QUALITY_SIGNALS, hasPriceRules, planRoute, priceAllows, profileTable,
  type FallbacksConfig, type GroupView, type ModelEntry, type PeerPrice, type PricingRules, type Profile, type QualitySignals, type RequestNeeds,
  type RoutePlan, type RoutingEnvironment, type Target, type TargetFacts,
} from '../routing/index.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { ModelCatalog, Route } from './model-catalog.js';
import { TargetStats } from './target-stats.js';

/** A price as the router needs it: USD per million tokens and the context window, from the price book. */
export type PriceLookup = (model: string, provider: Provider) => { inputPerMTok: number; outputPerMTok: number; contextWindow?: number } | undefined;

export interface RouterDeps {
  catalog: ModelCatalog;
  breakers: Map<string, CircuitBreaker>;
  models?: ModelEntry[];
  profiles?: Record<string, Omit<Profile, 'id'>>;
  fallbacks?: FallbacksConfig;
  priceOf?: PriceLookup;
  /** Requests in flight per provider (the pipeline's own bookkeeping for `max_concurrent`). */
  inFlight: (providerId: string) => number;
  quality?: QualitySignals;
}

export interface PlanRequest {
  model: string;
  needs: RequestNeeds;
  rules: PricingRules;
  /** The profile the request names (header or body), else the credential's default. */
  profile?: string;
  peersAllowed: boolean;
  /** The prices mesh peers advertise for a model (their signed records); absent: the mesh target's price is unknown. */
  peerPrices?: (model: string) => PeerPrice[];
  random?: () => number;
}

/** One group as `GET /v1/models` shows it. */
export interface RoutingName {
  id: string;
  kind: 'group' | 'alias';
  aliasOf?: string;
  strategy?: string;
  targets?: Array<{ provider: string; model: string; weight: number }>;
}

/**
 * The node's side of routing: holds groups, aliases, profiles and measured signals, builds the snapshot the pure
 * engine (routing/) reads, and turns its plan into provider routes for failover.
 */
export class Router {
  readonly stats = new TargetStats();
  readonly profiles: Map<string, Profile>;
  private readonly groups = new Map<string, GroupView>();
  private readonly aliases = new Map<string, string>();
  /** Per-target config of each group (context window, max output, capabilities), by target key. */
  private readonly targetConfig = new Map<string, NonNullable<ModelEntry['targets']>[number]>();
  quality: QualitySignals;

  constructor(private deps: RouterDeps) {
    this.profiles = new Map();
    this.quality = deps.quality ?? NO_QUALITY_SIGNALS;
    this.configure(deps);
  }

  /**
   * Takes new groups, aliases, profiles and fallbacks (a config reload). The maps are rebuilt in place, so a plan
   * made from now on sees the new rules, and one already made keeps the targets it was given.
   */
  reconfigure(rules: Pick<RouterDeps, 'models' | 'profiles' | 'fallbacks'>): void {
    this.deps = { ...this.deps, models: rules.models, profiles: rules.profiles, fallbacks: rules.fallbacks };
    this.configure(this.deps);
  }

  private configure(deps: RouterDeps): void {
    const profiles = profileTable(deps.profiles ?? {});
    this.profiles.clear();
    for (const [id, profile] of profiles) this.profiles.set(id, profile);
    this.groups.clear();
    this.aliases.clear();
    this.targetConfig.clear();
    for (const entry of deps.models ?? []) {
      if (entry.alias_of) {
        this.aliases.set(entry.name, entry.alias_of);
        continue;
      }
      const group: GroupView = {
        name: entry.name, strategy: entry.strategy, ...(entry.profile ? { profile: entry.profile } : {}),
        targets: entry.targets!.map((t) => ({ provider: t.provider, model: t.model ?? entry.name, weight: t.weight })),
      };
      this.groups.set(entry.name, group);
      for (const t of entry.targets!) if (!this.targetConfig.has(`${t.provider}/${t.model ?? entry.name}`)) this.targetConfig.set(`${t.provider}/${t.model ?? entry.name}`, t);
      for (const alias of entry.aliases) this.aliases.set(alias, entry.name);
    }
  }

  get fallbacks(): FallbacksConfig {
    return this.deps.fallbacks ?? { content_policy: [], context_window: [] };
  }

  /** An alias followed to its end (aliases may name aliases; cycles are refused by the config). */
  resolveName(name: string): string {
    let current = name;
    for (let hops = 0; hops < 16; hops++) {
      const next = this.aliases.get(current);
      if (next === undefined) return current;
      current = next;
    }
    return current;
  }

  /** Whether a name is a group or an alias of this node. */
  knows(name: string): boolean {
    return this.groups.has(name) || this.aliases.has(name);
  }

  /** Groups and aliases for `GET /v1/models`. */
  names(): RoutingName[] {
    const groups: RoutingName[] = [...this.groups.values()].map((g) => ({ id: g.name, kind: 'group', strategy: g.strategy, targets: g.targets }));
    const aliases: RoutingName[] = [...this.aliases.entries()].map(([id, to]) => ({ id, kind: 'alias', aliasOf: to }));
    return [...groups, ...aliases];
  }

  /** A profile by id; an unknown one is the client's mistake (400 naming the known ones). */
  profile(id: string): Profile {
    const profile = this.profiles.get(id);
    if (!profile) throw new GatewayError('unknown_profile', `Unknown routing profile '${id}'; known: ${[...this.profiles.keys()].join(', ')}.`, { param: 'profile' });
    return profile;
  }

  plan(request: PlanRequest): RoutePlan {
    const name = this.resolveName(request.model);
    const profileId = request.profile ?? this.groups.get(name)?.profile;
    const profile = profileId === undefined ? undefined : this.profile(profileId);
    const view = new PlanView(this, this.shared, request, profile);
    return planRoute({ model: request.model, needs: request.needs, rules: request.rules, profile, random: request.random }, view);
  }

  /** The provider route for a planned provider target. */
  route(target: Target): Route | undefined {
    return this.deps.catalog.routeTo(target.provider, target.model);
  }

  /** What a target's context window is known to be (config, else price catalog). */
  contextWindowOf(target: Target): number | undefined {
    return this.factsOf(target).contextWindow;
  }

  /** The parts of the routing snapshot that read the node's live state and are the same for every plan. */
  private readonly shared: SharedEnvironment = {
    aliasOf: (name) => (this.aliases.has(name) ? this.resolveName(name) : undefined),
    group: (name) => this.groups.get(name),
    providersFor: (model, operation) => {
      const found: Array<{ provider: string; model: string }> = [];
      for (const route of this.deps.catalog.resolve(model)) if (serves(route.provider, operation)) found.push({ provider: route.provider.id, model: route.pinned ?? model });
      return found;
    },
    providerServes: (id, operation) => {
      const provider = this.provider(id);
      return provider !== undefined && serves(provider, operation);
    },
    signals: (target) => this.stats.signals(target.key),
  };

  /**
   * What the plan knows of a target; a mesh target's price comes from `prices` (a plan's view), else it is unknown.
   * Every key is present (undefined when unknown), in the order the explain route shows them: keys added one by one
   * gave the targets of a plan different shapes (so the filter, rank and score layers' reads of them polymorphic), and
   * past four keys a property store grown on every target of every request.
   */
  factsOf(target: Target, prices?: PeerPrices): TargetFacts {
    if (target.peer) {
      const price = prices?.peerPrice(target.model);
      return {
        region: undefined, contextWindow: undefined, maxOutputTokens: undefined, supports: undefined,
        inputPrice: price?.inputPerMTok, outputPrice: price?.outputPerMTok, pricedBy: price?.peerId, circuit: 'closed', inFlight: 0, capacity: 0,
      };
    }
    const provider = this.provider(target.provider);
    const configured = this.groupTargetConfig(target);
    const price = provider && this.deps.priceOf?.(target.model, provider);
    return {
      region: provider?.config.region || undefined,
      contextWindow: (configured?.context_window ?? price?.contextWindow) || undefined,
      maxOutputTokens: configured?.max_output_tokens || undefined,
      supports: configured?.supports || undefined,
      inputPrice: price ? price.inputPerMTok : undefined,
      outputPrice: price ? price.outputPerMTok : undefined,
      pricedBy: undefined,
      circuit: this.deps.breakers.get(target.provider)?.state() ?? 'closed',
      inFlight: this.deps.inFlight(target.provider),
      capacity: provider?.config.max_concurrent ?? 0,
    };
  }

  private provider(id: string): Provider | undefined {
    return this.deps.catalog.provider(id);
  }

  private groupTargetConfig(target: Target) {
    return target.source === 'group' ? this.targetConfig.get(target.key) : undefined;
  }
}

/** The parts of a plan's view of the node that are the same for every plan. */
type SharedEnvironment = Pick<RoutingEnvironment, 'aliasOf' | 'group' | 'providersFor' | 'providerServes' | 'signals'>;

interface PeerPrices {
  peerPrice(model: string): PeerPrice | undefined;
}

/**
 * One plan's view of the node, as the engine reads it: the router's shared parts, and the mesh target's price —
 * the adverts scanned once per model and plan, not per question (and not at all when the plan has no mesh target;
 * a plan names one model behind the mesh but for groups). One object per plan, its methods on the prototype, where
 * the plan made three closures, their context and an object literal for every request.
 */
class PlanView implements RoutingEnvironment, PeerPrices {
  readonly aliasOf: SharedEnvironment['aliasOf'];
  readonly group: SharedEnvironment['group'];
  readonly providersFor: SharedEnvironment['providersFor'];
  readonly providerServes: SharedEnvironment['providerServes'];
  readonly signals: SharedEnvironment['signals'];
  readonly peersAllowed: boolean;
  readonly quality: QualitySignals;
  #askedModel: string | undefined = undefined;
  #askedPrice: PeerPrice | undefined = undefined;
  #otherPrices: Map<string, PeerPrice | undefined> | undefined = undefined;

  constructor(private readonly router: Router, shared: SharedEnvironment, private readonly request: PlanRequest, private readonly profile: Profile | undefined) {
    this.aliasOf = shared.aliasOf;
    this.group = shared.group;
    this.providersFor = shared.providersFor;
    this.providerServes = shared.providerServes;
    this.signals = shared.signals;
    this.peersAllowed = request.peersAllowed;
    this.quality = router.quality;
  }

  facts(target: Target): TargetFacts {
    return this.router.factsOf(target, this);
  }

  peerPrice(model: string): PeerPrice | undefined {
    if (this.#askedModel === undefined) {
      this.#askedModel = model;
      this.#askedPrice = this.#priceOf(model);
    }
    if (model === this.#askedModel) return this.#askedPrice;
    this.#otherPrices ??= new Map();
    if (!this.#otherPrices.has(model)) this.#otherPrices.set(model, this.#priceOf(model));
    return this.#otherPrices.get(model);
  }

  #priceOf(model: string): PeerPrice | undefined {
    return cheapestAllowed(this.request.peerPrices?.(model) ?? [], this.request.rules, this.profile);
  }
}

/**
 * The price the mesh target is filtered and ranked by: the cheapest advert (blended) among the peers the pricing
 * rules allow — the peers a forward will be offered to — else the cheapest of all, so a refusal names it.
 */
function cheapestAllowed(prices: PeerPrice[], rules: PricingRules, profile: Profile | undefined): PeerPrice | undefined {
  if (prices.length === 0) return undefined;
  // Without a price rule every advert is allowed: no filtered copy.
  const allowed = hasPriceRules(rules, profile) ? prices.filter((p) => priceAllows({ inputPrice: p.inputPerMTok, outputPrice: p.outputPerMTok }, rules, profile)) : prices;
  return cheapest(allowed) ?? cheapest(prices);
}

const blended = (p: PeerPrice) => p.inputPerMTok + p.outputPerMTok;
const cheapest = (list: PeerPrice[]) => list.reduce<PeerPrice | undefined>((best, p) => (best === undefined || blended(p) < blended(best) ? p : best), undefined);

const serves = (provider: Provider, operation: Operation) => provider.supports(operation) || operation === 'count_tokens';
