/**
 * A model's price in the one shape the rest of meshgate uses: USD per million tokens (MTok) for input, output,
 * cache-read input and cache-write input, with optional long-context tiers. A tier applies to the WHOLE request
 * once its total input tokens exceed `aboveInputTokens` (Gemini 2.5 Pro above 200k, Claude Sonnet 4 with the 1M
 * context beta: https://ai.google.dev/gemini-api/docs/pricing, https://docs.anthropic.com/en/docs/about-claude/pricing).
 */
export interface TokenRates {
  inputPerMTok: number;
  outputPerMTok: number;
  /** Price of input read from a prompt cache; absent = charged as ordinary input. */
  cachedInputPerMTok?: number;
  /** Price of input written to a prompt cache (Anthropic); absent = charged as ordinary input. */
  cacheWriteInputPerMTok?: number;
}

export interface PriceTier extends TokenRates {
  /** The tier applies when the request's total input tokens are strictly greater than this. */
  aboveInputTokens: number;
}

export interface ModelPrice extends TokenRates {
  /** Catalog id of the matched model (`gpt-4o` for `gpt-4o-2024-08-06`), or the configured model name. */
  model: string;
  /** Where the price came from: the maintained catalog or the operator's `[pricing]` config. */
  source: 'catalog' | 'config';
  /** Long-context tiers, ascending by threshold. */
  tiers: PriceTier[];
  contextWindow?: number;
}

/** The rates in force for a request with `inputTokens` input tokens: the highest tier it exceeds, else the base. */
export function ratesFor(price: ModelPrice, inputTokens: number): TokenRates {
  let rates: TokenRates = price;
  for (const tier of price.tiers) if (inputTokens > tier.aboveInputTokens) rates = tier;
  return rates;
}
