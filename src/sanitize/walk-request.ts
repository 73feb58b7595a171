import { MAX_JSON_DEPTH, nestsTooDeep } from '../core/index.js';
import { badRequest } from '../errors/index.js';

/**
 * Called for each text the gateway would send on, with where it is (`messages[2].content`: built only when asked for,
 * which is only when something was found); returns the (possibly redacted) text.
 */
export type TextVisitor = (text: string, location: () => string) => string;

type Json = Record<string, unknown>;
/** Sets an own property, also one named `__proto__` (which JSON.parse makes an own key, and `=` would not). */
const setOwn = (target: Json, key: string, value: unknown) => Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });

/**
 * Keys whose values are opaque provider tokens that must go back byte for byte (thinking signatures, Responses
 * reasoning `encrypted_content`): not scanned.
 * Everything else is, at any depth — ids and enum-like fields included, since inside tool arguments or metadata a
 * key named `id` or `type` holds whatever the user put there.
 */
const NOT_TEXT = new Set(['signature', 'thought_signature', 'thoughtSignature', 'encrypted_content']);

/** Fields that hold a JSON document as a string (OpenAI tool-call arguments): walked as JSON so redaction keeps it valid. */
const JSON_TEXT = new Set(['arguments']);

/** Fields that hold base64 payloads (images, audio, files): scanned only when they declare a text media type. */
const BASE64 = new Set(['data', 'file_data']);

const mediaTypeOf = (holder: Json): string | undefined => {
  const type = holder.media_type ?? holder.mimeType ?? holder.mime_type;
  return typeof type === 'string' ? type : undefined;
};

/**
 * Where the walk is: a stack of path segments (an array index, or an object key as it will be sent, i.e. already
 * redacted), turned into `messages[2].content` only when a visitor asks. Building that string for every node of every
 * request cost more than scanning most of them.
 */
class Path {
  private readonly segments: Array<string | number> = [];
  push(segment: string | number): void {
    this.segments.push(segment);
  }
  pop(): void {
    this.segments.pop();
  }
  /** The location now, and the location of the key being read (`{key}` names a key itself): no closure per node. */
  readonly here = () => this.toString();
  readonly hereKey = () => this.toString('{key}');
  /** The location, optionally with one more key segment. */
  toString(key?: string): string {
    let out = '';
    for (const segment of this.segments) out += typeof segment === 'number' ? `[${segment}]` : out ? `.${segment}` : segment;
    if (key !== undefined) out += out ? `.${key}` : key;
    return out;
  }
}

/** A base64 payload: decoded and scanned when it is text, re-encoded only if something was redacted. */
function walkBase64(visit: TextVisitor, value: string, mediaType: string | undefined, path: Path): string {
  const dataUrl = /^data:([^;,]*)(;base64)?,/.exec(value);
  const type = dataUrl ? dataUrl[1] : mediaType;
  if (!type || !/^(text\/|application\/(json|xml|x-yaml|yaml))/.test(type)) return value;
  const encoded = dataUrl ? value.slice(dataUrl[0].length) : value;
  const base64 = dataUrl ? dataUrl[2] !== undefined : true;
  const decoded = base64 ? Buffer.from(encoded, 'base64').toString('utf8') : decodeURIComponent(encoded);
  const scanned = visit(decoded, path.here);
  if (scanned === decoded) return value;
  const reencoded = base64 ? Buffer.from(scanned, 'utf8').toString('base64') : encodeURIComponent(scanned);
  return dataUrl ? `${dataUrl[0]}${reencoded}` : reencoded;
}

/** A JSON text: walked as JSON (keys included) and re-serialised only if a finding changed it; plain text otherwise. */
function walkJsonText(visit: TextVisitor, text: string, path: Path): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return visit(text, path.here);
  }
  // The body's own depth was checked at the edge; JSON inside one of its strings is checked here, where it is parsed.
  if (nestsTooDeep(parsed)) throw badRequest(`The JSON text at ${path.toString()} nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`);
  const walked = walkValue(visit, parsed, path);
  // Untouched: the original bytes (big numbers, key order) go on as they were.
  return walked === parsed ? text : JSON.stringify(walked);
}

/**
 * The walked value: the very same object or array when nothing in it changed (the common case on every request,
 * so a clean body costs no copies), a new one holding the changes otherwise.
 */
function walkValue(visit: TextVisitor, value: unknown, path: Path): unknown {
  if (typeof value === 'string') return value.startsWith('data:') ? walkBase64(visit, value, undefined, path) : visit(value, path.here);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      path.push(i);
      const walked = walkValue(visit, item, path);
      path.pop();
      if (walked !== item) (copy ??= [...value])[i] = walked;
    }
    return copy ?? value;
  }
  const holder = value as Json;
  let out: Json | undefined;
  const keys = Object.keys(holder);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    const child = holder[key];
    // Keys are text too (a JSON object in tool arguments can be keyed by anything); the location names the
    // redacted key, never the original.
    const safeKey = visit(key, path.hereKey);
    path.push(safeKey);
    let walked: unknown;
    if (typeof child !== 'string') walked = walkValue(visit, child, path);
    else if (NOT_TEXT.has(key)) walked = child;
    else if (JSON_TEXT.has(key)) walked = walkJsonText(visit, child, path);
    // Anthropic's plain-text document source carries its text in `data` (`source.type` "text"), not base64.
    else if (BASE64.has(key) && holder.type !== 'text') walked = walkBase64(visit, child, mediaTypeOf(holder), path);
    else walked = walkValue(visit, child, path);
    path.pop();
    if (!out && (safeKey !== key || walked !== child)) {
      out = {};
      for (let before = 0; before < index; before++) setOwn(out, keys[before]!, holder[keys[before]!]);
    }
    if (out) setOwn(out, safeKey, walked);
  }
  return out ?? value;
}

/**
 * Applies `visit` to every text a request sends on — every string in the body at any depth, object keys included,
 * except opaque signatures (NOT_TEXT); JSON tool arguments as JSON; base64 payloads when they declare a text media
 * type — and returns the body with the changes (the input is not modified; without changes, the input itself). The
 * same walk serves all three wire formats: a per-field list would let text in any field it forgot (a document block,
 * a `name`, `metadata`) through unscanned.
 */
export function walkRequestText(body: Json, visit: TextVisitor): Json {
  return walkValue(visit, body, new Path()) as Json;
}
