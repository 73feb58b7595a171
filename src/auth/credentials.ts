import { badRequest } from '../errors/index.js';

export type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * Where each SDK sends its key, read the same way for access tokens, virtual keys and the admin key:
 * `Authorization: Bearer` (OpenAI SDKs, Vercel AI SDK), `x-api-key` (Anthropic SDKs), `x-goog-api-key` (google-genai
 * SDKs), `api-key` (AzureOpenAI clients), and the `key` query parameter (Gemini REST, on `/v1beta/` routes only: the
 * HTTP layer strips it from the URL before anything can log it and hands it over as `queryKeys`).
 */
export const CREDENTIAL_SOURCES = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key'] as const;
export const QUERY_KEY_SOURCE = 'key query parameter';

/** Where a request may carry its credential, for error messages. */
export const CREDENTIAL_SOURCES_TEXT = '"Authorization: Bearer …", "x-api-key", "x-goog-api-key" or "api-key" (or ?key= on /v1beta/ routes)';

function headerValue(headers: HeaderBag, name: (typeof CREDENTIAL_SOURCES)[number]): string | undefined {
  const raw = headers[name];
  const value = typeof raw === 'string' ? raw.trim() : undefined;
  if (!value) return undefined;
  if (name !== 'authorization') return value;
  return /^Bearer\s+(\S+)$/i.exec(value)?.[1];
}

/**
 * The credential a request presents, or undefined when it presents none. The same credential in several places is
 * one credential (some clients send their key twice); two different ones are refused with 400 naming where they came
 * from — never what they were — since guessing which one the client meant could admit it under the wrong identity.
 */
export function presentedCredential(headers: HeaderBag, queryKeys: readonly string[] = []): string | undefined {
  // Nothing is allocated for a request without a credential (a public node's every request).
  let found: Array<{ source: string; value: string }> | undefined;
  for (const name of CREDENTIAL_SOURCES) {
    const value = headerValue(headers, name);
    if (value !== undefined) (found ??= []).push({ source: name, value });
  }
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
