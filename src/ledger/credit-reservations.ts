/**
 * The serving side's credit limit with the work in flight counted (protocol/receipts.md, "Credit limit"). The ledger
 * knows what a peer owes once receipts are issued; a request being served has no receipt yet, so without this a peer
 * could open many requests at once while its debt is still zero and be served for all of them. Each admitted
 * request reserves its estimated cost against the peer's credit until its receipt is issued (or it ends without
 * one), and a peer is refused while what it owes plus what it has in flight exceeds the limit.
 */
export interface CreditReservation {
  /** Ends the reservation (the receipt, if any, now carries the real cost). Idempotent. */
  release(): void;
}

export type CreditAdmission =
  | { admitted: true; reservation: CreditReservation }
  | { admitted: false; owedMicros: number; inFlightMicros: number };

export class CreditReservations {
  readonly #reserved = new Map<string, number>();

  constructor(
    /** Unacknowledged micro-USD `peer` owes this node (the ledger's figure, disputed receipts included). */
    private readonly owed: (peer: string) => Promise<number>,
    private readonly limitMicros: number | undefined,
  ) {}

  /** Micro-USD reserved by `peer`'s requests in flight. */
  inFlight(peer: string): number {
    return this.#reserved.get(peer) ?? 0;
  }

  /**
   * Admits a request of `peer` estimated at `estimateMicros` while owed + in flight does not exceed the limit (the
   * first request of a peer that owes nothing always passes, as a limit smaller than one request would otherwise
   * refuse everything). The check and the reservation happen in one synchronous step after the ledger answered, so
   * concurrent admissions see each other's reservations.
   */
  async admit(peer: string, estimateMicros: number): Promise<CreditAdmission> {
    const owedMicros = this.limitMicros === undefined ? 0 : await this.owed(peer);
    const inFlightMicros = this.inFlight(peer);
    if (this.limitMicros !== undefined && owedMicros + inFlightMicros > this.limitMicros) return { admitted: false, owedMicros, inFlightMicros };
    const amount = Math.max(0, Math.ceil(estimateMicros));
    this.#reserved.set(peer, inFlightMicros + amount);
    let released = false;
    return {
      admitted: true,
      reservation: {
        release: () => {
          if (released) return;
          released = true;
          const left = (this.#reserved.get(peer) ?? 0) - amount;
          if (left > 0) this.#reserved.set(peer, left);
          else this.#reserved.delete(peer);
        },
      },
    };
  }
}
