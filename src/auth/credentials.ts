import { badRequest } from '../errors/index.js';

export type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * Where each SDK sends its key, read the same way for access tokens, virtual keys and the admin key:
 * `Authorization: Bearer` (OpenAI SDKs, Vercel AI SDK), `x-api-key` (Anthropic SDKs), `x-goog-api-key` (google-genai
 * SDKs), `api-key` (AzureOpenAI clients), and the `key` query parameter (Gemini REST, on `/v1beta/` routes only: the
 * HTTP layer strips it from the URL before anything can log it and hands it over as `queryKeys`).
 */
export const CREDENTIAL_SOURCES = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key'] as const; // read one by one in presentedCredential (a test holds the two together)
export const QUERY_KEY_SOURCE = 'key query parameter';

/** Where a request may carry its credential, for error messages. */
export const CREDENTIAL_SOURCES_TEXT = '"Authorization: Bearer …", "x-api-key", "x-goog-api-key" or "api-key" (or ?key= on /v1beta/ routes)';

/** A header's value, trimmed; undefined when absent, empty or not a string (node:http joins a repeated header into one). */
function trimmed(raw: string | string[] | undefined): string | undefined {
  const value = typeof raw === 'string' ? raw.trim() : undefined;
  return value || undefined;
}

/** The token of an `Authorization: Bearer` header. */
function bearerToken(raw: string | string[] | undefined): string | undefined {
  const value = trimmed(raw);
  return value === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(value)?.[1];
}

type Found = Array<{ source: string; value: string }> | undefined;
function add(found: Found, source: string, value: string | undefined): Found {
  if (value !== undefined) (found ??= []).push({ source, value });
  return found;
}

/**
 * The credential a request presents, or undefined when it presents none. The same credential in several places is
 * one credential (some clients send their key twice); two different ones are refused with 400 naming where they came
 * from — never what they were — since guessing which one the client meant could admit it under the wrong identity.
 */
export function presentedCredential(headers: HeaderBag, queryKeys: readonly string[] = []): string | undefined {
  // Nothing is allocated for a request without a credential (a public node's every request). Each header is read by
  // its own name (in CREDENTIAL_SOURCES' order): `headers[name]` over the four names is a keyed load that V8 turns
  // megamorphic, a hash look-up per name on every request.
  let found = add(undefined, 'authorization', bearerToken(headers.authorization));
  found = add(found, 'x-api-key', trimmed(headers['x-api-key']));
  found = add(found, 'x-goog-api-key', trimmed(headers['x-goog-api-key']));
  found = add(found, 'api-key', trimmed(headers['api-key']));
  for (const value of queryKeys) (found ??= []).push({ source: QUERY_KEY_SOURCE, value });
  if (!found) return undefined;
  const first = found[0]!.value;
  if (found.some((f) => f.value !== first)) {
    throw badRequest(
      `The request carries more than one credential (${[...new Set(found.map((f) => f.source))].join(', ')}); send one key, in one of ${CREDENTIAL_SOURCES_TEXT}.`,
      undefined,
      'conflicting_credentials',
    );
  }
  return first;
}
