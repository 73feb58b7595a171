import { createHash } from 'node:crypto';
import type { PrincipalRef, Secret } from '../core/index.js';
import type { VirtualKey } from './auth-config.js';

/**
 * The `[key_map]` virtual keys: found by a digest of the client key (the key text is never a map key), and by id once
 * a request carries only `{ kind, id }`.
 */
export class VirtualKeys {
  #byDigest: Map<string, VirtualKey>;
  #byId: Map<string, VirtualKey>;

  constructor(keys: readonly VirtualKey[] = []) {
    this.#byDigest = new Map();
    this.#byId = new Map();
    this.replace(keys);
  }

  /** Takes a new `[key_map]` (a config reload): a key taken out is refused from the next request on. */
  replace(keys: readonly VirtualKey[]): void {
    this.#byDigest = new Map(keys.map((vk) => [digest(vk.key.reveal()), vk]));
    this.#byId = new Map(keys.map((vk) => [vk.id, vk]));
  }

  /** The virtual key `credential` is, if any. */
  find(credential: string): VirtualKey | undefined {
    return this.#byDigest.get(digest(credential));
  }

  /** Every virtual key, in config order. */
  list(): VirtualKey[] {
    return [...this.#byId.values()];
  }

  byId(id: string | undefined): VirtualKey | undefined {
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /** The provider key a virtual key maps to for `providerId` (undefined → the provider's own configured key). */
  providerKey(principal: PrincipalRef, providerId: string): Secret | undefined {
    return principal.kind === 'virtual_key' ? this.byId(principal.id)?.providerKeys.get(providerId) : undefined;
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}
