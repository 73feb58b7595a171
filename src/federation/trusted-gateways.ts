import { gatewayIdOf, parsePublicKey } from '../auth/index.js';

/** One trusted gateway: its id, and its key when the entry pinned it. */
export interface TrustedGateway {
  gatewayId: string;
  /** `pk-meshgate-…` when `federation.trusted_gateways` named the key rather than the id. */
  pinnedKey?: string;
}

/**
 * `federation.trusted_gateways` read once: a gateway id trusts whichever key the mesh's gateway records name for it
 * (the id is a 64-bit fingerprint of that key); a `pk-meshgate-…` entry pins the key itself, so a record naming
 * another key under the same id is ignored.
 */
export class TrustedGateways {
  readonly #byId = new Map<string, TrustedGateway>();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      if (entry.startsWith('pk-meshgate-')) {
        const gatewayId = gatewayIdOf(parsePublicKey(entry));
        this.#byId.set(gatewayId, { gatewayId, pinnedKey: entry });
      } else if (!this.#byId.has(entry)) this.#byId.set(entry, { gatewayId: entry });
    }
  }

  get(gatewayId: string): TrustedGateway | undefined {
    return this.#byId.get(gatewayId);
  }

  list(): TrustedGateway[] {
    return [...this.#byId.values()];
  }

  get size(): number {
    return this.#byId.size;
  }
}
