import { MemoryDatastore } from 'datastore-core';
import { Key } from 'interface-datastore';

/** What the DHT keeps for other peers: values (`/dht/record/…`) by bytes, provider entries (`/dht/provider/…`) by count. */
export interface DatastoreBudget {
  recordBytes: number;
  providerEntries: number;
}

export const DEFAULT_DATASTORE_BUDGET: DatastoreBudget = { recordBytes: 16 * 1024 * 1024, providerEntries: 50_000 };

/**
 * libp2p's in-memory datastore with a budget for what DHT peers can make this node store. A DHT server stores every
 * valid PUT and ADD_PROVIDER it receives, and anyone can mint peer ids and sign records for them, so without a bound
 * a connected peer could grow this node's memory at will. Over budget, the oldest entries of that kind go first
 * (live nodes republish theirs before they expire, so they come back); everything else (the peer store) is untouched.
 */
export class BoundedDatastore extends MemoryDatastore {
  readonly #records = new Map<string, number>();
  #recordBytes = 0;
  readonly #providers = new Set<string>();

  constructor(private readonly budget: DatastoreBudget = DEFAULT_DATASTORE_BUDGET) {
    super();
  }

  override put(key: Key, value: Uint8Array, options?: { signal?: AbortSignal }): Key {
    const id = key.toString();
    super.put(key, value, options);
    if (id.startsWith('/dht/record/')) {
      this.#recordBytes += value.byteLength - (this.#records.get(id) ?? 0);
      this.#records.delete(id);
      this.#records.set(id, value.byteLength);
      for (const [oldest, size] of this.#records) {
        if (this.#recordBytes <= this.budget.recordBytes) break;
        this.#forget(oldest);
        this.#recordBytes -= size;
      }
    } else if (id.startsWith('/dht/provider/')) {
      this.#providers.delete(id);
      this.#providers.add(id);
      for (const oldest of this.#providers) {
        if (this.#providers.size <= this.budget.providerEntries) break;
        this.#forget(oldest);
      }
    }
    return key;
  }

  override delete(key: Key, options?: { signal?: AbortSignal }): void {
    const id = key.toString();
    super.delete(key, options);
    const size = this.#records.get(id);
    if (size !== undefined) {
      this.#records.delete(id);
      this.#recordBytes -= size;
    }
    this.#providers.delete(id);
  }

  #forget(id: string): void {
    this.#records.delete(id);
    this.#providers.delete(id);
    // Through the base class: the bookkeeping above is already done.
    super.delete(new Key(id, false));
  }

  /** Bytes of DHT values held for peers (for tests and status). */
  get recordBytes(): number {
    return this.#recordBytes;
  }
}
