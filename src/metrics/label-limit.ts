/** Label value used once a label has seen its maximum number of distinct values. */
export const OTHER_LABEL = '(other)';

/**
 * Caps the distinct values one label can take. A model name comes from the client (a 404 for a made-up model is
 * still counted), so without a cap anyone could create unbounded time series and exhaust memory
 * (https://prometheus.io/docs/practices/naming/#labels: "do not use labels to store dimensions with high cardinality").
 */
export class LabelLimit {
  readonly #seen = new Set<string>();

  constructor(private readonly maxValues: number) {}

  value(raw: string): string {
    if (this.#seen.has(raw)) return raw;
    if (this.#seen.size >= this.maxValues) return OTHER_LABEL;
    this.#seen.add(raw);
    return raw;
  }
}
