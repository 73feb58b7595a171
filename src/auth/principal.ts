import type { AccessTokenPayload } from './access-token.js';

/**
 * Who is asking, as established by the authenticator: a PrincipalRef (core/) with more detail (`kind` + `id`); it
 * never holds a secret — ids, labels and the token's (public) claims only.
 */
export type Principal =
  | { kind: 'public'; id?: undefined }
  | {
      kind: 'token';
      /** The token id (jti); for a token of another gateway (`issuer`), `{issuer}.{jti}`, so it never meets one of ours. */
      id: string;
      claims: AccessTokenPayload;
      expiresAt: number | null;
      /** Set for a token of a trusted gateway (federation): its gateway id. Its quota is reserved there. */
      issuer?: string;
    }
  | { kind: 'virtual_key'; id: string; label: string }
  | { kind: 'admin'; id: 'admin' };

export type { HeaderBag } from './credentials.js';
