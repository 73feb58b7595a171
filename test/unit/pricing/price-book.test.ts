import { describe, expect, it } from 'vitest';
import { costMicros, modelNameCandidates, PriceBook, pricingConfigSchema, type ModelPrice } from '../../../src/pricing/index.js';

const flat: ModelPrice = { model: 'flat', source: 'config', inputPerMTok: 2.5, outputPerMTok: 10, cachedInputPerMTok: 1.25, tiers: [] };

describe('costMicros', () => {
  it('prices exactly as integer arithmetic on pico-dollars would, rounding half up, small counts and huge ones alike', () => {
    // The reference: the BigInt sum of tokens × micro-dollars per million tokens, rounded half up to micro-dollars.
    const reference = (price: ModelPrice, tokens: { input: number; cached: number; write: number; output: number }) => {
      const micros = (usd: number) => BigInt(Math.round(usd * 1_000_000));
      const picos = BigInt(tokens.input - tokens.cached - tokens.write) * micros(price.inputPerMTok) + BigInt(tokens.cached) * micros(price.cachedInputPerMTok!)
        + BigInt(tokens.write) * micros(price.cacheWriteInputPerMTok!) + BigInt(tokens.output) * micros(price.outputPerMTok);
      return Number((picos + 500_000n) / 1_000_000n);
    };
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const rates = [0, 0.000001, 0.1, 0.15, 0.6, 2.5, 3.75, 15, 75, 1234.567891];
    const counts = [0, 1, 2, 3, 7, 499_999, 500_000, 1_000_000, 12_345_678, 2 ** 40, 2 ** 53 - 1];
    for (let i = 0; i < 4_000; i++) {
      const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
      const price: ModelPrice = { ...flat, inputPerMTok: pick(rates), outputPerMTok: pick(rates), cachedInputPerMTok: pick(rates), cacheWriteInputPerMTok: pick(rates) };
      const count = () => (random() < 0.5 ? Math.floor(random() * 50_000) : pick(counts));
      const cached = count();
      const write = count();
      const tokens = { input: cached + write + count(), cached, write, output: count() };
      if (!Number.isSafeInteger(tokens.input)) continue;
      expect(costMicros(price, { inputTokens: tokens.input, cachedInputTokens: cached, cacheWriteInputTokens: write, outputTokens: tokens.output })).toBe(reference(price, tokens));
    }
  });

  it('charges uncached input, cached input and output at their own rates, in integer micro-dollars', () => {
    // 1,000,000 input of which 400,000 cached: 600k × 2.5 + 400k × 1.25 = 1.5 + 0.5 USD; 100k output × 10 = 1 USD.
    const micros = costMicros(flat, { inputTokens: 1_000_000, cachedInputTokens: 400_000, outputTokens: 100_000 });
    expect(micros).toBe(3_000_000);
    expect(Number.isInteger(micros)).toBe(true);
  });

  it('charges cached tokens at the input rate when the model has no cache price', () => {
    const noCache: ModelPrice = { ...flat, cachedInputPerMTok: undefined };
    expect(costMicros(noCache, { inputTokens: 1_000, cachedInputTokens: 1_000, outputTokens: 0 })).toBe(2_500);
  });

  it('charges cache writes at the cache-write rate (Anthropic: 1.25 × input)', () => {
    const claude: ModelPrice = { ...flat, inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3, cacheWriteInputPerMTok: 3.75 };
    // 10,000 input = 2,000 uncached + 5,000 cache reads + 3,000 cache writes.
    const micros = costMicros(claude, { inputTokens: 10_000, cachedInputTokens: 5_000, cacheWriteInputTokens: 3_000, outputTokens: 1_000 });
    expect(micros).toBe(2_000 * 3 + 5_000 * 0.3 + 3_000 * 3.75 + 1_000 * 15);
  });

  it('applies a context tier to the whole request once input exceeds its threshold, and not at the threshold', () => {
    const tiered: ModelPrice = {
      ...flat,
      inputPerMTok: 1.25,
      outputPerMTok: 10,
      cachedInputPerMTok: 0.125,
      tiers: [{ aboveInputTokens: 200_000, inputPerMTok: 2.5, outputPerMTok: 15, cachedInputPerMTok: 0.25 }],
    };
    expect(costMicros(tiered, { inputTokens: 200_000, outputTokens: 1_000 })).toBe(250_000 + 10_000);
    expect(costMicros(tiered, { inputTokens: 200_001, cachedInputTokens: 100_000, outputTokens: 1_000 })).toBe(
      Math.round(100_001 * 2.5 + 100_000 * 0.25 + 1_000 * 15),
    );
  });

  it('rounds once at the end, so fractional sub-micro prices add up exactly', () => {
    const cheap: ModelPrice = { ...flat, inputPerMTok: 0.075, outputPerMTok: 0.3, cachedInputPerMTok: 0.01875 };
    // 0.075 × 3 = 0.225, 0.3 × 7 = 2.1, 0.01875 × 8 = 0.15 → 2.475 micro-dollars → 2.
    expect(costMicros(cheap, { inputTokens: 11, cachedInputTokens: 8, outputTokens: 7 })).toBe(2);
    // Ten million tokens at 1000 USD/MTok stay exact (no 2^53 overflow of the pico-dollar sum).
    expect(costMicros({ ...flat, inputPerMTok: 1000, outputPerMTok: 1000 }, { inputTokens: 10_000_000, outputTokens: 10_000_000 })).toBe(20_000_000_000);
  });
});

describe('PriceBook with the maintained catalog', () => {
  const book = new PriceBook();

  it('prices a dated OpenAI snapshot like its family, cached tokens included', () => {
    const result = book.costOf({ providerType: 'openai', model: 'gpt-4o-2024-08-06', usage: { inputTokens: 1_000_000, cachedInputTokens: 1_000_000, outputTokens: 0 } });
    expect(result).toMatchObject({ priced: true, costMicros: 1_250_000 });
    expect(book.priceFor('gpt-4o-2024-08-06', 'openai')).toMatchObject({ model: 'gpt-4o', inputPerMTok: 2.5, outputPerMTok: 10 });
  });

  it('knows Gemini long-context tiers', () => {
    const price = book.priceFor('gemini-2.5-pro', 'gemini');
    expect(price?.tiers[0]).toMatchObject({ aboveInputTokens: 200_000, inputPerMTok: 2.5, outputPerMTok: 15 });
    const small = book.costOf({ providerType: 'gemini', model: 'gemini-2.5-pro', usage: { inputTokens: 100_000, outputTokens: 0 } });
    const large = book.costOf({ providerType: 'gemini', model: 'gemini-2.5-pro', usage: { inputTokens: 300_000, outputTokens: 0 } });
    expect(small.costMicros).toBe(125_000);
    expect(large.costMicros).toBe(750_000);
  });

  it('prices a routed name (openai/gpt-4o-mini) through an OpenAI-compatible provider by the model name', () => {
    expect(book.costOf({ providerType: 'openai_compatible', model: 'openai/gpt-4o-mini', usage: { inputTokens: 1_000_000, outputTokens: 0 } }))
      .toMatchObject({ priced: true, costMicros: 150_000 });
  });

  it('prices a Bedrock cross-region inference profile like the base model behind it, and Claude on Vertex by its name', () => {
    const base = book.priceFor('anthropic.claude-3-haiku-20240307-v1:0', 'bedrock');
    expect(base).toMatchObject({ inputPerMTok: 0.25, outputPerMTok: 1.25 });
    expect(book.priceFor('us.anthropic.claude-3-haiku-20240307-v1:0', 'bedrock')).toMatchObject({ inputPerMTok: 0.25, outputPerMTok: 1.25 });
    expect(book.priceFor('us.anthropic.claude-3-haiku-20240307-v1:0', 'openai_compatible')).toBeUndefined();
    expect(book.priceFor('claude-sonnet-4-5@20250929', 'vertex')).toMatchObject({ inputPerMTok: 3, outputPerMTok: 15 });
  });

  it('returns null and priced=false for an unknown model, never 0', () => {
    const result = book.costOf({ providerType: 'openai_compatible', model: 'my-private-llm-7b', usage: { inputTokens: 10, outputTokens: 10 } });
    expect(result).toEqual({ costMicros: null, priced: false });
    expect(book.priceFor('my-private-llm-7b')).toBeUndefined();
  });
});

describe('PriceBook with config overrides', () => {
  const config = pricingConfigSchema.parse({
    'gpt-4o': { input: 2, output: 8, cached_input: 0.5 },
    'my-private-llm-7b': { input: 0.1, output: 0.2, tiers: [{ above_input_tokens: 1000, input: 1, output: 2 }] },
  });
  const book = new PriceBook(config);

  it('lets an override win over the catalog for the model and its snapshots', () => {
    expect(book.priceFor('gpt-4o-2024-11-20', 'openai')).toMatchObject({ source: 'config', inputPerMTok: 2, outputPerMTok: 8 });
    expect(book.costOf({ providerType: 'openai', model: 'GPT-4o', usage: { inputTokens: 1_000_000, cachedInputTokens: 500_000, outputTokens: 0 } }).costMicros).toBe(1_250_000);
  });

  it('prices a model the catalog lacks, with its tiers', () => {
    expect(book.costOf({ model: 'my-private-llm-7b', usage: { inputTokens: 1_000_000, outputTokens: 1_000_000 } })).toMatchObject({ costMicros: 3_000_000, priced: true });
  });

  it('rejects a negative or misspelled price field', () => {
    expect(pricingConfigSchema.safeParse({ m: { input: -1, output: 1 } }).success).toBe(false);
    expect(pricingConfigSchema.safeParse({ m: { input: 1, output: 1, cache_input: 1 } }).success).toBe(false);
  });
});

describe('modelNameCandidates', () => {
  it.each([
    ['gpt-4o-2024-08-06', ['gpt-4o-2024-08-06', 'gpt-4o']],
    ['claude-3-5-sonnet-20241022', ['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet']],
    ['claude-3-5-sonnet@20240620', ['claude-3-5-sonnet@20240620', 'claude-3-5-sonnet']],
    ['models/gemini-1.5-flash-002', ['models/gemini-1.5-flash-002', 'gemini-1.5-flash-002', 'gemini-1.5-flash']],
    ['claude-3-5-haiku-latest', ['claude-3-5-haiku-latest', 'claude-3-5-haiku']],
    ['gpt-4o', ['gpt-4o']],
  ])('%s → %j', (model, expected) => {
    expect(modelNameCandidates(model)).toEqual(expected);
  });
});
