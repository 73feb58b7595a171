import type { WireFormat } from '../formats/canonical.js';

/** Called for each text the gateway would send on; returns the (possibly redacted) text. */
export type TextVisitor = (text: string, location: string) => string;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Keys whose values are opaque provider tokens that must go back byte for byte (thinking signatures): not scanned.
 * Everything else is, at any depth — ids and enum-like fields included, since inside tool arguments or metadata a
 * key named `id` or `type` holds whatever the user put there.
 */
const NOT_TEXT = new Set(['signature', 'thought_signature', 'thoughtSignature']);

/** Fields that hold a JSON document as a string (OpenAI tool-call arguments): walked as JSON so redaction keeps it valid. */
const JSON_TEXT = new Set(['arguments']);

/** Fields that hold base64 payloads (images, audio, files): scanned only when they declare a text media type. */
const BASE64 = new Set(['data', 'file_data']);

const mediaTypeOf = (holder: Json): string | undefined => {
  const type = holder.media_type ?? holder.mimeType ?? holder.mime_type;
  return typeof type === 'string' ? type : undefined;
};

interface Walk {
  visit: TextVisitor;
  /** Set when any visit changed a text (so JSON documents are re-serialised only when they must be). */
  changed: boolean;
}

function visitText(walk: Walk, text: string, location: string): string {
  const out = walk.visit(text, location);
  if (out !== text) walk.changed = true;
  return out;
}

/** A base64 payload: decoded and scanned when it is text, re-encoded only if something was redacted. */
function walkBase64(walk: Walk, value: string, mediaType: string | undefined, location: string): string {
  const dataUrl = /^data:([^;,]*)(;base64)?,/.exec(value);
  const type = dataUrl ? dataUrl[1] : mediaType;
  if (!type || !/^(text\/|application\/(json|xml|x-yaml|yaml))/.test(type)) return value;
  const encoded = dataUrl ? value.slice(dataUrl[0].length) : value;
  const base64 = dataUrl ? dataUrl[2] !== undefined : true;
  const decoded = base64 ? Buffer.from(encoded, 'base64').toString('utf8') : decodeURIComponent(encoded);
  const scanned = visitText(walk, decoded, location);
  if (scanned === decoded) return value;
  const reencoded = base64 ? Buffer.from(scanned, 'utf8').toString('base64') : encodeURIComponent(scanned);
  return dataUrl ? `${dataUrl[0]}${reencoded}` : reencoded;
}

/** A JSON text: walked as JSON (keys included) and re-serialised only if a finding changed it; plain text otherwise. */
function walkJsonText(walk: Walk, text: string, location: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return visitText(walk, text, location);
  }
  const inner: Walk = { visit: walk.visit, changed: false };
  const walked = walkValue(inner, parsed, location);
  if (!inner.changed) return text; // untouched: the original bytes (big numbers, key order) go on as they were
  walk.changed = true;
  return JSON.stringify(walked);
}

function walkValue(walk: Walk, value: unknown, location: string): unknown {
  if (typeof value === 'string') return value.startsWith('data:') ? walkBase64(walk, value, undefined, location) : visitText(walk, value, location);
  if (Array.isArray(value)) return value.map((item, i) => walkValue(walk, item, `${location}[${i}]`));
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, child] of Object.entries(value)) {
    // Keys are text too (a JSON object in tool arguments can be keyed by anything); the location names the
    // redacted key, never the original.
    const safeKey = visitText(walk, key, location ? `${location}.{key}` : '{key}');
    const at = location ? `${location}.${safeKey}` : safeKey;
    if (NOT_TEXT.has(key) && typeof child === 'string') out[safeKey] = child;
    else if (JSON_TEXT.has(key) && typeof child === 'string') out[safeKey] = walkJsonText(walk, child, at);
    // Anthropic's plain-text document source carries its text in `data` (`source.type` "text"), not base64.
    else if (BASE64.has(key) && typeof child === 'string' && value.type !== 'text') out[safeKey] = walkBase64(walk, child, mediaTypeOf(value), at);
    else out[safeKey] = walkValue(walk, child, at);
  }
  return out;
}

/**
 * Applies `visit` to every text a request sends on — every string in the body except protocol vocabulary (see
 * NOT_TEXT), object keys included, JSON tool arguments as JSON, base64 payloads when they declare a text media type
 * — and returns a new body (the input is not modified). The same walk serves all three formats: a per-field list
 * would let text in any field it forgot (a document block, a `name`, `metadata`) through unscanned.
 */
export function walkRequestText(_format: WireFormat, body: Json, visit: TextVisitor): Json {
  return walkValue({ visit, changed: false }, body, '') as Json;
}
