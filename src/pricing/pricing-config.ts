import { z } from 'zod';

/** USD per million tokens, as providers publish them. */
const usdPerMTok = z.number().nonnegative().finite();

const ratesSchema = {
  input: usdPerMTok,
  output: usdPerMTok,
  cached_input: usdPerMTok.optional(),
  cache_write_input: usdPerMTok.optional(),
};

/**
 * `[pricing."model-id"]` in the config: the operator's own price for a model (negotiated rates, a self-hosted model,
 * one the catalog lacks). It wins over the catalog for that model and its dated snapshots.
 *
 * ```toml
 * [pricing."gpt-4o"]
 * input = 2.5
 * output = 10
 * cached_input = 1.25
 * tiers = [{ above_input_tokens = 200000, input = 5, output = 15 }]
 * ```
 */
export const modelPriceOverrideSchema = z
  .object({
    ...ratesSchema,
    tiers: z.array(z.object({ above_input_tokens: z.number().int().nonnegative(), ...ratesSchema }).strict()).default([]),
  })
  .strict();

export const pricingConfigSchema = z.record(z.string().min(1), modelPriceOverrideSchema).default({});

export type ModelPriceOverride = z.infer<typeof modelPriceOverrideSchema>;
export type PricingConfig = z.infer<typeof pricingConfigSchema>;
