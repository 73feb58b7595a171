/**
 * How many messages of one kind each peer may send: a token bucket per peer id, `rate` messages a second with a burst
 * of `burstSeconds` seconds' worth (default 10), checked before a message is even read. Ledger messages
 * (protocol/receipts.md, "Bounds": each acknowledgement and dispute costs a signature check and a store write, so a
 * peer that sends more is answered `{"ok":false}` at once — an honest node batches acknowledgements and reconciles
 * page by page), federation reservations, and record exchanges (protocol/node-record.md: each costs a record parse and
 * a signature check) are bounded with it.
 */
export const BURST_SECONDS = 10;
/** Peers tracked at once; a bucket dropped to make room is a full one again, which is what an idle peer has anyway. */
const MAX_PEERS = 10_000;

export class PerPeerRate {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #burst: number;

  /** `rate` messages per second and peer; 0 = no limit. */
  constructor(
    readonly rate: number,
    private readonly clock: () => number = Date.now,
    burstSeconds = BURST_SECONDS,
  ) {
    this.#burst = Math.max(1, rate * burstSeconds);
  }

  /** Takes one message from `peerId`'s allowance; false when it has none left now. */
  admit(peerId: string): boolean {
    if (this.rate <= 0) return true;
    const now = this.clock();
    const bucket = this.#buckets.get(peerId);
    const tokens = bucket ? Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate) : this.#burst;
    if (tokens < 1) {
      bucket!.tokens = tokens;
      bucket!.at = now;
      return false;
    }
    // Re-inserted, so the map's order is least recently used first.
    this.#buckets.delete(peerId);
    this.#buckets.set(peerId, { tokens: tokens - 1, at: now });
    if (this.#buckets.size > MAX_PEERS) this.#buckets.delete(this.#buckets.keys().next().value!);
    return true;
  }
}
