import type { AccessTokenPayload } from './access-token.js';

/**
 * Who is asking, as established by `AccessControl.authenticate`: a PrincipalRef (core/) with more detail
 * (`kind` + `id`); it never holds a secret — ids, labels and the token's (public) claims only.
 */
export type Principal =
  | { kind: 'public'; id?: undefined }
  | { kind: 'token'; id: string; claims: AccessTokenPayload; expiresAt: number | null }
  | { kind: 'virtual_key'; id: string; label: string }
  | { kind: 'admin'; id: 'admin' };

export type HeaderBag = Record<string, string | string[] | undefined>;

/** The bearer credential: `Authorization: Bearer …` (OpenAI SDKs) or `x-api-key: …` (Anthropic SDKs). */
export function presentedCredential(headers: HeaderBag): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.trim() !== '' ? apiKey.trim() : undefined;
}
