export { PriceBook } from './price-book.js';
export type { CostQuery, CostResult } from './price-book.js';
export { costMicros } from './cost.js';
export type { BillableUsage } from './cost.js';
export { ratesFor } from './model-price.js';
export type { ModelPrice, PriceTier, TokenRates } from './model-price.js';
export { modelNameCandidates } from './model-name.js';
export { modelPriceOverrideSchema, pricingConfigSchema } from './pricing-config.js';
export type { ModelPriceOverride, PricingConfig } from './pricing-config.js';
