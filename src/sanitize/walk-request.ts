import { MAX_JSON_DEPTH, nestsTooDeep } from '../core/index.js';
import { badRequest } from '../errors/index.js';

/** Called for each text the gateway would send on; returns the (possibly redacted) text. */
export type TextVisitor = (text: string, location: string) => string;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

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

/** A base64 payload: decoded and scanned when it is text, re-encoded only if something was redacted. */
function walkBase64(visit: TextVisitor, value: string, mediaType: string | undefined, location: string): string {
  const dataUrl = /^data:([^;,]*)(;base64)?,/.exec(value);
  const type = dataUrl ? dataUrl[1] : mediaType;
  if (!type || !/^(text\/|application\/(json|xml|x-yaml|yaml))/.test(type)) return value;
  const encoded = dataUrl ? value.slice(dataUrl[0].length) : value;
  const base64 = dataUrl ? dataUrl[2] !== undefined : true;
  const decoded = base64 ? Buffer.from(encoded, 'base64').toString('utf8') : decodeURIComponent(encoded);
  const scanned = visit(decoded, location);
  if (scanned === decoded) return value;
  const reencoded = base64 ? Buffer.from(scanned, 'utf8').toString('base64') : encodeURIComponent(scanned);
  return dataUrl ? `${dataUrl[0]}${reencoded}` : reencoded;
}

/** A JSON text: walked as JSON (keys included) and re-serialised only if a finding changed it; plain text otherwise. */
function walkJsonText(visit: TextVisitor, text: string, location: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return visit(text, location);
  }
  // The body's own depth was checked at the edge; JSON inside one of its strings is checked here, where it is parsed.
  if (nestsTooDeep(parsed)) throw badRequest(`The JSON text at ${location} nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`);
  const walked = walkValue(visit, parsed, location);
  // Untouched: the original bytes (big numbers, key order) go on as they were.
  return walked === parsed ? text : JSON.stringify(walked);
}

/**
 * The walked value: the very same object or array when nothing in it changed (the common case on every request,
 * so a clean body costs no copies), a new one holding the changes otherwise.
 */
function walkValue(visit: TextVisitor, value: unknown, location: string): unknown {
  if (typeof value === 'string') return value.startsWith('data:') ? walkBase64(visit, value, undefined, location) : visit(value, location);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const walked = walkValue(visit, item, `${location}[${i}]`);
      if (walked !== item) (copy ??= [...value])[i] = walked;
    });
    return copy ?? value;
  }
  if (!isObject(value)) return value;
  let out: Json | undefined;
  const entries = Object.entries(value);
  entries.forEach(([key, child], index) => {
    // Keys are text too (a JSON object in tool arguments can be keyed by anything); the location names the
    // redacted key, never the original.
    const safeKey = visit(key, location ? `${location}.{key}` : '{key}');
    const at = location ? `${location}.${safeKey}` : safeKey;
    let walked: unknown;
    if (NOT_TEXT.has(key) && typeof child === 'string') walked = child;
    else if (JSON_TEXT.has(key) && typeof child === 'string') walked = walkJsonText(visit, child, at);
    // Anthropic's plain-text document source carries its text in `data` (`source.type` "text"), not base64.
    else if (BASE64.has(key) && typeof child === 'string' && value.type !== 'text') walked = walkBase64(visit, child, mediaTypeOf(value), at);
    else walked = walkValue(visit, child, at);
    if (!out && (safeKey !== key || walked !== child)) out = Object.fromEntries(entries.slice(0, index));
    if (out) out[safeKey] = walked;
  });
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
  return walkValue(visit, body, '') as Json;
}
