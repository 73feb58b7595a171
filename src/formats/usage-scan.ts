/**
 * Reads one top-level field of a JSON object from its bytes without parsing the rest: a pass-through answer goes to the
 * client as the upstream sent it, and all the gateway needs from it is its usage, which OpenAI, Anthropic and the
 * Responses API put last (`"usage": {…}`) and Gemini near the end (`"usageMetadata": {…}`, then `modelVersion`,
 * `responseId`). So the field is looked for from the end, only its value is parsed, and the bytes after it are
 * checked to close the top-level object — a nested field of the same name, or a body cut short, is not taken for it.
 */

/** Returned when the field could not be read this way: the caller parses the whole body instead. */
export const NOT_SCANNED: unique symbol = Symbol('not scanned');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** Occurrences of the field's name tried from the end before giving up (a top-level key appears once). */
const MAX_TRIES = 4;

/**
 * The parsed value of top-level `field` when it is an object, or `NOT_SCANNED` when the bytes do not show one that
 * way (no such field, `null`, not an object, nested only, a body that does not end the object): then parse it all.
 */
export function scanTopLevelObject(bytes: Uint8Array, field: string): unknown {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A UTF-8 byte-order mark may lead the body (JSON parsers of the fetch standard skip it).
  let start = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  while (start < buf.length && isSpace(buf[start]!)) start++;
  if (buf[start] !== OPEN_BRACE) return NOT_SCANNED;
  const needle = needleOf(field);
  let at = buf.lastIndexOf(needle);
  for (let tries = 0; at > start && tries < MAX_TRIES; tries++, at = buf.lastIndexOf(needle, at - 1)) {
    if (escaped(buf, at)) continue;
    let i = at + needle.length;
    while (i < buf.length && isSpace(buf[i]!)) i++;
    if (buf[i] !== COLON) continue;
    i++;
    while (i < buf.length && isSpace(buf[i]!)) i++;
    if (buf[i] !== OPEN_BRACE) continue;
    const valueEnd = closingOf(buf, i);
    if (valueEnd < 0 || !closesTopLevel(buf, valueEnd)) continue;
    try {
      return JSON.parse(buf.toString('utf8', i, valueEnd));
    } catch {
      return NOT_SCANNED;
    }
  }
  return NOT_SCANNED;
}

const needles = new Map<string, Buffer>();
/** `"field"` as bytes, made once per field name (a handful: one per format). */
function needleOf(field: string): Buffer {
  let needle = needles.get(field);
  if (!needle) needles.set(field, (needle = Buffer.from(`"${field}"`)));
  return needle;
}

/** Whether the quote at `at` is escaped (an odd run of backslashes before it): then it is inside a string. */
function escaped(buf: Buffer, at: number): boolean {
  let backslashes = 0;
  for (let i = at - 1; i >= 0 && buf[i] === BACKSLASH; i--) backslashes++;
  return backslashes % 2 === 1;
}

/**
 * Scans from `from` with the JSON nesting `depth` given, skipping strings: the index just after the byte that takes
 * the depth below zero, or -1 when the bytes end first.
 */
function scanToClose(buf: Buffer, from: number, depth: number): number {
  let inString = false;
  for (let i = from; i < buf.length; i++) {
    const b = buf[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
    else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && --depth < 0) return i + 1;
  }
  return -1;
}

/** The index just after the `}` that closes the object opening at `open`, or -1. */
function closingOf(buf: Buffer, open: number): number {
  return scanToClose(buf, open + 1, 0);
}

/** Whether the bytes from `from` close exactly one object — the top-level one — with only whitespace after it. */
function closesTopLevel(buf: Buffer, from: number): boolean {
  const end = scanToClose(buf, from, 0);
  if (end < 0 || buf[end - 1] !== CLOSE_BRACE) return false;
  for (let i = end; i < buf.length; i++) if (!isSpace(buf[i]!)) return false;
  return true;
}
