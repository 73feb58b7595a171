import { verifyRecord, type RecordPayload } from './node-record.js';

/** Upper bound of cached records: a mesh bigger than this keeps the newest ones it heard of. */
const MAX_CACHED_RECORDS = 4096;

/**
 * Verified node records this node has seen (from the DHT or straight from peers), newest sequence number per peer.
 * Every read drops what expired, so a node that left without withdrawing disappears when its record runs out.
 */
export class RecordCache {
  readonly #records = new Map<string, RecordPayload>();
  readonly #clock: () => number;

  constructor(clock: () => number) {
    this.#clock = clock;
  }

  /** Verifies `bytes` as the record of `peerId` and keeps it if it is newer than the cached one. */
  async accept(bytes: Uint8Array, peerId: string): Promise<RecordPayload> {
    const { payload } = await verifyRecord(bytes, peerId, this.#clock());
    const cached = this.#records.get(peerId);
    if (cached && cached.seq >= payload.seq && cached.expiresAt > this.#clock()) return cached;
    this.#records.delete(peerId);
    this.#records.set(peerId, payload);
    if (this.#records.size > MAX_CACHED_RECORDS) this.#records.delete(this.#records.keys().next().value as string);
    return payload;
  }

  get(peerId: string): RecordPayload | undefined {
    const payload = this.#records.get(peerId);
    if (payload && payload.expiresAt <= this.#clock()) {
      this.#records.delete(peerId);
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
