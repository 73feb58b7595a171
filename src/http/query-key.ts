import type { IncomingMessage } from 'node:http';

/**
 * The `key` query parameter (Gemini REST: `?key=…`). It is taken off the URL before routing — fastify's `rewriteUrl`
 * runs first of all — so no log line, error message, record or upstream request built from the URL can carry it; the
 * value is kept beside the raw request, and read as a credential only on `/v1beta/` routes (the Gemini API).
 */
const QUERY_KEYS = new WeakMap<IncomingMessage, string[]>();
const GEMINI_PREFIX = '/v1beta/';

/** The URL without its `key` parameters (every other byte as it came); the values are kept for `queryKeyOf`. */
export function stripQueryKey(raw: IncomingMessage): string {
  const url = raw.url ?? '/';
  const question = url.indexOf('?');
  if (question < 0) return url;
  const kept: string[] = [];
  const keys: string[] = [];
  for (const pair of url.slice(question + 1).split('&')) {
    const equals = pair.indexOf('=');
    const name = equals < 0 ? pair : pair.slice(0, equals);
    // Compared decoded, as the query parser reads it: `%6Bey=` or `k%65y=` is the same parameter, and left in the URL
    // it would reach the logs (and `request.query.key`) while the credential check never saw it.
    if (name === 'key' || (name.includes('%') && decodeValue(name) === 'key')) keys.push(decodeValue(equals < 0 ? '' : pair.slice(equals + 1)));
    else kept.push(pair);
  }
  if (keys.length === 0) return url;
  QUERY_KEYS.set(raw, keys);
  const path = url.slice(0, question);
  const stripped = kept.length > 0 ? `${path}?${kept.join('&')}` : path;
  // fastify keeps the URL as received in `originalUrl` (set just before rewriteUrl runs): that copy goes too.
  (raw as IncomingMessage & { originalUrl?: string }).originalUrl = stripped;
  return stripped;
}

/** The values of `?key=` on a `/v1beta/` request (elsewhere the parameter is dropped, never read). */
export function queryKeyOf(raw: IncomingMessage, path: string): string[] {
  if (!path.startsWith(GEMINI_PREFIX)) return [];
  return (QUERY_KEYS.get(raw) ?? []).filter((value) => value !== '');
}

function decodeValue(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}
