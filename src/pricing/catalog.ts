import { calcPrice, type ModelPrice as CatalogModelPrice, type TieredPrices } from '@pydantic/genai-prices';
import type { ProviderType } from '../core-config/index.js';
import type { ModelPrice, PriceTier, TokenRates } from './model-price.js';

/**
 * The built-in catalog is `@pydantic/genai-prices`: a maintained, dependency-free package generated from the
 * pydantic/genai-prices repository (prices with their source URLs, context tiers, cache read/write rates, dated
 * snapshot matching, start-date price changes). We use its bundled data only (never its remote auto-update), so
 * prices change when the package is upgraded, reviewably, and a node never fetches anything to price a request.
 */

/**
 * Our provider types → the catalog's provider ids. `openai_compatible` has none: the model name decides; so does
 * `vertex`, which serves Google's and Anthropic's models (priced as each publisher's own).
 */
const CATALOG_PROVIDER_IDS: Record<ProviderType, string | undefined> = {
  openai: 'openai',
  azure_openai: 'azure',
  anthropic: 'anthropic',
  gemini: 'google',
  openai_compatible: undefined,
  bedrock: 'aws',
  vertex: undefined,
};

/** Catalog price keys (`prices/units.yml` upstream) → our rate fields; other units (searches, audio) are not billed here. */
const RATE_KEYS: ReadonlyArray<readonly [keyof TokenRates, string]> = [
  ['inputPerMTok', 'input_mtok'],
  ['outputPerMTok', 'output_mtok'],
  ['cachedInputPerMTok', 'cache_read_mtok'],
  ['cacheWriteInputPerMTok', 'cache_write_mtok'],
];

const ZERO_USAGE = { input_tokens: 0, output_tokens: 0 };

/** The geography of a Bedrock cross-region inference profile id (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html). */
const BEDROCK_PROFILE_PREFIX = /^(us|us-gov|eu|apac|jp|au|ca|global)\./;

/** The catalog's price for `model` as served by a provider of `providerType`, in force at `at`; undefined if unknown. */
export function catalogPrice(providerType: ProviderType | undefined, model: string, at = new Date()): ModelPrice | undefined {
  const providerId = providerType ? CATALOG_PROVIDER_IDS[providerType] : undefined;
  // A zero-usage calculation is the package's public way to resolve a model (match rules, snapshot dates,
  // start-date constraints) to the prices in force at a time.
  const lookup = (name: string) => calcPrice(ZERO_USAGE, name, { ...(providerId ? { providerId } : {}), timestamp: at });
  // A Bedrock cross-region inference profile (`us.anthropic.claude-…`) is the base model behind a routing prefix;
  // the catalog lists the base model (AWS prices the geographic profiles the same as it).
  const found = lookup(model) ?? (providerType === 'bedrock' && BEDROCK_PROFILE_PREFIX.test(model) ? lookup(model.replace(BEDROCK_PROFILE_PREFIX, '')) : undefined);
  if (!found) return undefined;
  return fromCatalogPrices(found.model.id, found.model_price, found.model.context_window);
}

function fromCatalogPrices(model: string, prices: CatalogModelPrice, contextWindow?: number): ModelPrice | undefined {
  if (prices.input_mtok === undefined && prices.output_mtok === undefined) return undefined;
  const thresholds = new Set<number>();
  for (const [, key] of RATE_KEYS) {
    const value = prices[key];
    if (isTiered(value)) for (const tier of value.tiers) thresholds.add(tier.start);
  }
  const tiers: PriceTier[] = [...thresholds]
    .sort((a, b) => a - b)
    .map((threshold) => ({ aboveInputTokens: threshold, ...ratesAt(prices, threshold + 1) }));
  return { model, source: 'catalog', ...ratesAt(prices, 0), tiers, ...(contextWindow ? { contextWindow } : {}) };
}

/** The rates for a request of `inputTokens`; the catalog applies a tier when input exceeds its start. */
function ratesAt(prices: CatalogModelPrice, inputTokens: number): TokenRates {
  const rates: TokenRates = { inputPerMTok: 0, outputPerMTok: 0 };
  for (const [field, key] of RATE_KEYS) {
    const value = prices[key];
    if (value === undefined) continue;
    rates[field] = isTiered(value) ? tierPrice(value, inputTokens) : value;
  }
  return rates;
}

function tierPrice(value: TieredPrices, inputTokens: number): number {
  let price = value.base;
  for (const tier of value.tiers) if (inputTokens > tier.start) price = tier.price;
  return price;
}

function isTiered(value: unknown): value is TieredPrices {
  return typeof value === 'object' && value !== null && 'tiers' in value;
}
