/**
 * Who is asking, as the pipeline carries it: the kind and id, never a secret. auth/ establishes it (its `Principal`
 * is one of these with more detail); rules and limits are looked up by id, so a principal that travelled as a plain
 * `{ kind, id }` works. `peer` is a mesh node forwarding a request (its limits are `mesh.peer_limits`).
 */
export interface PrincipalRef {
  kind: 'public' | 'token' | 'virtual_key' | 'admin' | 'peer';
  /** Token id, virtual key label, or peer id. */
  id?: string;
}
