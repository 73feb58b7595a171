import { unauthorized } from '../errors/index.js';
import { SECRET_KEY_PREFIX, type AdminKey } from './admin-key.js';
import type { Principal } from './principal.js';
import type { VirtualKeys } from './virtual-keys.js';

/**
 * One kind of credential a node accepts. `resolve` answers undefined for a credential that is not its kind (the next
 * resolver is asked), the principal for a valid one, and throws 401 for one of its kind that is not valid.
 * The authenticator asks its resolvers in order; tokens of a trusted gateway (federation) are one more resolver
 * placed before this node's own token resolver, without the authenticator or the pipeline changing.
 */
export interface CredentialResolver {
  resolve(credential: string): Promise<Principal | undefined>;
}

/** The admin key (`sk-meshgate-…`, compared in constant time) is accepted in every mode. */
export function adminKeyResolver(adminKey: AdminKey): CredentialResolver {
  return {
    resolve: async (credential) => {
      if (!credential.startsWith(SECRET_KEY_PREFIX)) return undefined;
      if (adminKey.matches(credential)) return { kind: 'admin', id: 'admin' };
      throw unauthorized('The admin key is not valid for this gateway.', 'invalid_admin_key');
    },
  };
}

/** `[key_map]` virtual keys (mode `key`). An unknown key is not refused here: public mode may still admit it. */
export function virtualKeyResolver(keys: VirtualKeys): CredentialResolver {
  return {
    resolve: async (credential) => {
      const vk = keys.find(credential);
      return vk && { kind: 'virtual_key', id: vk.id, label: vk.label };
    },
  };
}
