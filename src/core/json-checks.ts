/**
 * The checks of the typed payload decoders that stand in for zod schemas on the hot paths (forward frames, receipt
 * payloads), with zod's meaning: an object is a non-null non-array object, an integer is a safe integer, and a
 * string's length is counted in code points.
 */
export type JsonObject = Record<string, unknown>;

export const isJsonObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A safe integer ≥ 0 (zod's `z.number().int().min(0)`). */
export const isUint = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** A string of `min` to `max` code points (zod's `z.string().min(min).max(max)`); one of at most `max` UTF-16 units always fits. */
export function isText(value: unknown, min: number, max: number): value is string {
  if (typeof value !== 'string' || value.length < min) return false;
  if (value.length <= max) return true;
  let points = 0;
  for (const _ of value) if (++points > max) return false;
  return true;
}

/** Every key of `value` is one of `allowed` (what a strict schema requires). */
export function onlyKeys(value: JsonObject, allowed: ReadonlySet<string>): boolean {
  for (const key in value) if (!allowed.has(key)) return false;
  return true;
}
