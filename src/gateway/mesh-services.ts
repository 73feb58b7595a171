import type { ModelAdvert } from '../mesh/index.js';
import type { PriceBook } from '../pricing/index.js';

/** A model's price as receipts charge it: what this node advertises to peers. */
export function advertisedPrice(priceBook: PriceBook, model: string): ModelAdvert['price'] | undefined {
  const price = priceBook.priceFor(model);
  return price && { inputPerMTok: price.inputPerMTok, outputPerMTok: price.outputPerMTok, ...(price.cachedInputPerMTok !== undefined ? { cachedInputPerMTok: price.cachedInputPerMTok } : {}) };
}
