/**
 * The JSON text a parsed value was read from, kept beside the value (not on it) so that a node passing a request on
 * unchanged can send the client's own text instead of encoding the value again. The association holds only for the
 * very object parsed: every step that changes a request body (the sanitizer's redactions, taking `meshgate` routing
 * options, a renamed model) builds a new object, which has no text. Nothing may modify a parsed body in place.
 */
const texts = new WeakMap<object, string>();

/** Remembers `text` (valid JSON, without a byte-order mark) as the source of `value`, the object parsed from it. */
export function keepJsonText(value: unknown, text: string): void {
  if (value !== null && typeof value === 'object') texts.set(value, text);
}

/** The JSON text `value` was parsed from, if it is the parsed object itself; undefined otherwise. */
export function jsonTextOf(value: unknown): string | undefined {
  return value !== null && typeof value === 'object' ? texts.get(value) : undefined;
}
