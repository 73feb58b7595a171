import type { ProviderType } from '../core-config/index.js';
import { catalogPrice } from './catalog.js';
import { costMicros, type BillableUsage } from './cost.js';
import { modelNameCandidates } from './model-name.js';
import type { ModelPrice, TokenRates } from './model-price.js';
import type { ModelPriceOverride, PricingConfig } from './pricing-config.js';

export interface CostQuery {
  /** Type of the provider that served the request; picks the catalog's provider (Azure and OpenAI differ). */
  providerType?: ProviderType;
  /** The model as the provider reported or was asked for (`gpt-4o-2024-08-06`). */
  model: string;
  usage: BillableUsage;
  /** When the request ran (epoch ms): catalog prices can change on a date. Defaults to now. */
  at?: number;
}

export interface CostResult {
  /** Integer micro-dollars; null when no price is known (never a silent 0). */
  costMicros: number | null;
  /** False when the model has no price: the record carries the flag and the operator can add one in config. */
  priced: boolean;
  /** The catalog or config entry that priced it. */
  pricedAs?: string;
}

/**
 * Prices for this node: the operator's `[pricing]` overrides first (matched on the model name and its undated
 * family), then the maintained catalog.
 */
export class PriceBook {
  #overrides: Map<string, ModelPrice>;
  /**
   * Look-ups by provider type and model, each valid for one UTC day (catalog prices change on dates, never within a
   * day). A look-up walks the whole catalog, and every request prices itself up to three times (reservation estimate,
   * settlement, record) besides what routing asks, so this cache is what keeps pricing off the hot path. Unknown
   * models are cached too. Two map levels rather than one joined key: a hit builds no string.
   */
  readonly #cache = new Map<string, Map<string, { day: number; price: ModelPrice | undefined }>>();

  constructor(config: PricingConfig = {}) {
    this.#overrides = overridesOf(config);
  }

  /** Takes new `[pricing]` overrides (a config reload): requests priced from now on use them. */
  reconfigure(config: PricingConfig): void {
    this.#overrides = overridesOf(config);
    this.#cache.clear();
  }

  /** The price of `model` (for GET /v1/models and the mesh advertisement); undefined when unknown. */
  priceFor(model: string, providerType?: ProviderType, at = Date.now()): ModelPrice | undefined {
    const day = Math.floor(at / 86_400_000);
    let byModel = this.#cache.get(providerType ?? '');
    if (!byModel) this.#cache.set(providerType ?? '', (byModel = new Map()));
    const cached = byModel.get(model);
    if (cached?.day === day) return cached.price;
    const price = this.#lookUp(model, providerType, at);
    if (byModel.size >= 10_000) byModel.clear();
    byModel.set(model, { day, price });
    return price;
  }

  #lookUp(model: string, providerType: ProviderType | undefined, at: number): ModelPrice | undefined {
    const candidates = modelNameCandidates(model);
    for (const candidate of candidates) {
      const override = this.#overrides.get(candidate);
      if (override) return override;
    }
    for (const candidate of candidates) {
      const price = catalogPrice(providerType, candidate, new Date(at));
      if (price) return price;
    }
    return undefined;
  }

  costOf(query: CostQuery): CostResult {
    const price = this.priceFor(query.model, query.providerType, query.at);
    if (!price) return { costMicros: null, priced: false };
    return { costMicros: costMicros(price, query.usage), priced: true, pricedAs: `${price.source}:${price.model}` };
  }
}

function overridesOf(config: PricingConfig): Map<string, ModelPrice> {
  return new Map(Object.entries(config).map(([model, override]) => [model.trim().toLowerCase(), fromOverride(model, override)]));
}

function fromOverride(model: string, override: ModelPriceOverride): ModelPrice {
  return {
    model,
    source: 'config',
    ...toRates(override),
    tiers: [...override.tiers]
      .sort((a, b) => a.above_input_tokens - b.above_input_tokens)
      .map((tier) => ({ aboveInputTokens: tier.above_input_tokens, ...toRates(tier) })),
  };
}

function toRates(rates: Omit<ModelPriceOverride, 'tiers'>): TokenRates {
  return {
    inputPerMTok: rates.input,
    outputPerMTok: rates.output,
    ...(rates.cached_input !== undefined ? { cachedInputPerMTok: rates.cached_input } : {}),
    ...(rates.cache_write_input !== undefined ? { cacheWriteInputPerMTok: rates.cache_write_input } : {}),
  };
}
