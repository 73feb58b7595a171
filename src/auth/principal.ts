import type { AccessTokenPayload } from './access-token.js';

/**
 * Who is asking, as established by `AccessControl.authenticate`. Structurally a PrincipalRef of the pipeline
 * (`kind` + `id`); it never holds a secret — ids, labels and the token's (public) claims only.
 */
export type Principal =
  | { kind: 'public'; id?: undefined }
  | { kind: 'token'; id: string; claims: AccessTokenPayload; expiresAt: number | null }
  | { kind: 'virtual_key'; id: string; label: string }
  | { kind: 'admin'; id: 'admin' };

/**
 * What `checkModel`, `reserve` and `providerKey` need: the kind and id, as the pipeline carries them (its PrincipalRef).
 * Rules are looked up by id, so a principal that travelled through the pipeline as a plain `{ kind, id }` works.
 * `peer` (a mesh node forwarding a request) has no limits here: the mesh's trust rules decide what a peer may do.
 */
export interface PrincipalRefLike {
  kind: Principal['kind'] | 'peer';
  id?: string;
}

export type { HeaderBag } from './credentials.js';
