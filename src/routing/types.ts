import type { Capability, Strategy } from './config.js';

export type CircuitView = 'closed' | 'open' | 'half_open';

/** One place a request could go: a provider with the upstream model, or the mesh (`peer:*`). */
export interface Target {
  /** `provider/model`, or `peer:*` joined to the model by a slash: unique within one request's candidates. */
  key: string;
  /** Provider id, or `peer:*`. */
  provider: string;
  /** The model asked of it (client-visible name; the provider's `model_map` applies after). */
  model: string;
  peer: boolean;
  weight: number;
  /** Where the candidate came from: a group's target list, the providers serving the name, or the mesh. */
  source: 'group' | 'catalog' | 'mesh';
}

/** A price a mesh peer advertises for a model in its signed node record, USD per million tokens. */
export interface PeerPrice {
  peerId: string;
  inputPerMTok: number;
  outputPerMTok: number;
}

/** What the node knows about a target right now (config, price catalog, breakers, its own bookkeeping). */
export interface TargetFacts {
  region?: string;
  contextWindow?: number;
  maxOutputTokens?: number;
  supports?: Capability[];
  /** USD per million tokens; undefined = unknown. */
  inputPrice?: number;
  outputPrice?: number;
  /** The mesh target (`peer:*`): the peer whose signed advert gives the price above (the cheapest that advertises one). */
  pricedBy?: string;
  circuit: CircuitView;
  inFlight: number;
  capacity: number;
}

/** Signals measured on this node (milliseconds; success rate 0..1); undefined = not measured yet. */
export interface MeasuredSignals {
  ttftP50?: number;
  ttftP95?: number;
  durationP50?: number;
  durationP95?: number;
  /** Exponentially weighted moving average of the duration, for the `latency` strategy. */
  latencyEwma?: number;
  successRate?: number;
  samples: number;
}

/**
 * Quality from user feedback (`routing-cache`'s signals aggregate plugs in here): 0..1, higher is better, undefined
 * when nothing is known. The neutral default knows nothing.
 */
export interface QualitySignals {
  scoreOf(target: { provider: string; model: string }, profile?: string): number | undefined;
}
export const NO_QUALITY_SIGNALS: QualitySignals = { scoreOf: () => undefined };

/** What the request needs from a target, read from its canonical form. */
export interface RequestNeeds {
  operation: 'chat' | 'embeddings' | 'count_tokens';
  inputTokens: number;
  maxOutputTokens?: number;
  capabilities: Capability[];
}

/** Pricing rules of the credential (token claims / key_map), USD per million tokens. */
export interface PricingRules {
  maxInputPrice?: number;
  maxOutputPrice?: number;
  freeOnly?: boolean;
}

/** A named group as the engine sees it. */
export interface GroupView {
  name: string;
  strategy: Strategy;
  profile?: string;
  targets: Array<{ provider: string; model: string; weight: number }>;
}

/** Everything the engine reads about the node, as functions over a snapshot: no I/O, no clock. */
export interface RoutingEnvironment {
  /** An alias's target name (followed to the end), or undefined. */
  aliasOf(name: string): string | undefined;
  group(name: string): GroupView | undefined;
  /**
   * Providers serving a model name, in config order, that can do the operation, each with the model's name there: the
   * name itself, or for a name pinned to one provider (`provider-id/model`) that provider alone with the part after the
   * prefix (so the upstream, prices and signals see the model, not the pin).
   */
  providersFor(model: string, operation: RequestNeeds['operation']): Array<{ provider: string; model: string }>;
  /** Whether a provider exists and can do the operation (for group targets). */
  providerServes(provider: string, operation: RequestNeeds['operation']): boolean;
  /** Whether mesh peers may be asked for this model (forwarding on, hops left). */
  peersAllowed: boolean;
  facts(target: Target): TargetFacts;
  signals(target: Target): MeasuredSignals;
  quality: QualitySignals;
}
