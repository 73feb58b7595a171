/**
 * The JSON text a parsed value was read from, kept beside the value (not on it) so that a node passing a request on
 * unchanged can send the client's own text instead of encoding the value again. The association holds only for the
 * very object parsed: every step that changes a request body (the sanitizer's redactions, taking `meshgate` routing
 * options, a renamed model) builds a new object, which has no text. Nothing may modify a parsed body in place
 * (test/integration/frozen-body.test.ts).
 */
const texts = new WeakMap<object, string>();

/** Remembers `text` (valid JSON, without a byte-order mark) as the source of `value`, the object parsed from it. */
export function keepJsonText(value: unknown, text: string): void {
  if (value !== null && typeof value === 'object') texts.set(value, text);
}

/**
 * The JSON text `value` was parsed from, if it is the parsed object itself — and if the text says nothing the value
 * does not: JSON.parse keeps the last of duplicate keys, so `{"messages":[…a secret…],"messages":[…]}` parses to a
 * value the sanitizer finds clean while its text still carries the first copy to whoever receives the text. A text
 * with a duplicate key anywhere (its members outnumber the value's) is not returned; the value is encoded instead.
 */
export function jsonTextOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const text = texts.get(value);
  return text !== undefined && membersInText(text) === membersIn(value) ? text : undefined;
}

/** Object members in a parsed value, nested ones included. */
function membersIn(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += membersIn(item);
    return count;
  }
  for (const key in value) count += 1 + membersIn((value as Record<string, unknown>)[key]);
  return count;
}

/**
 * Object members in valid JSON text: each is one `:` outside a string (the text is known to parse). The strings —
 * nearly all of a prompt's bytes — are skipped with `indexOf` to their closing quote rather than walked character by
 * character (100 KB of prose: about 2 µs instead of about 1 ms).
 */
function membersInText(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) count++;
    else if (c === 0x22) i = closingQuote(text, i);
  }
  return count;
}

/** The index of the quote that closes the string opened at `open`: the first one after an even run of backslashes. */
function closingQuote(text: string, open: number): number {
  for (let quote = text.indexOf('"', open + 1); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
  return text.length;
}
