import { verifyRecord, type RecordPayload } from './node-record.js';

/** Upper bounds of the cache, in records and in record bytes. */
const MAX_CACHED_RECORDS = 4096;
const MAX_CACHED_BYTES = 32 * 1024 * 1024;

/**
 * Verified node records this node has seen (from the DHT or straight from peers), newest sequence number per peer.
 * Every read drops what expired, so a node that left without withdrawing disappears when its record runs out.
 * Bounded in count and bytes; when full, the oldest record of a peer that is not `protected` (connected, or that
 * has served this node) goes first — anyone can mint peer ids and records, so a flood of them must not push out
 * the peers this node actually uses.
 */
export class RecordCache {
  readonly #records = new Map<string, RecordPayload>();
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  readonly #clock: () => number;
  readonly #isProtected: (peerId: string) => boolean;

  constructor(clock: () => number, isProtected: (peerId: string) => boolean = () => false) {
    this.#clock = clock;
    this.#isProtected = isProtected;
  }

  #remove(peerId: string): void {
    this.#records.delete(peerId);
    this.#bytes -= this.#sizes.get(peerId) ?? 0;
    this.#sizes.delete(peerId);
  }

  #evict(): void {
    while (this.#records.size > MAX_CACHED_RECORDS || this.#bytes > MAX_CACHED_BYTES) {
      let victim: string | undefined;
      for (const id of this.#records.keys()) {
        if (!this.#isProtected(id)) {
          victim = id;
          break;
        }
      }
      this.#remove(victim ?? (this.#records.keys().next().value as string));
    }
  }

  /** Verifies `bytes` as the record of `peerId` and keeps it if it is newer than the cached one. */
  async accept(bytes: Uint8Array, peerId: string): Promise<RecordPayload> {
    const { payload } = await verifyRecord(bytes, peerId, this.#clock());
    const cached = this.#records.get(peerId);
    if (cached && cached.seq >= payload.seq && cached.expiresAt > this.#clock()) return cached;
    this.#remove(peerId);
    this.#records.set(peerId, payload);
    this.#sizes.set(peerId, bytes.byteLength);
    this.#bytes += bytes.byteLength;
    this.#evict();
    return payload;
  }

  get(peerId: string): RecordPayload | undefined {
    const payload = this.#records.get(peerId);
    if (payload && payload.expiresAt <= this.#clock()) {
      this.#remove(peerId);
      return undefined;
    }
    return payload;
  }

  /** Live (unexpired, not withdrawn) records. */
  live(): RecordPayload[] {
    return [...this.#records.keys()].map((id) => this.get(id)).filter((p): p is RecordPayload => p !== undefined && !p.withdrawn);
  }

  servingModel(model: string): RecordPayload[] {
    return this.live().filter((p) => p.models.some((m) => m.id === model));
  }
}
