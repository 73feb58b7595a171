import type { Logger } from 'pino';
import { LEDGER_PAGE } from './ledger-messages.js';
import type { LedgerTransport } from './ledger-transport.js';

/**
 * How long the first acknowledgement of a batch waits for others. Each batch is a ledger stream of its own (a Yamux
 * stream, a multistream-select negotiation and a message each way, on both nodes): at one forward every few
 * milliseconds, a quarter of a second gathers tens of acknowledgements into one, while the unacknowledged amount it
 * leaves at the issuer stays a quarter of a second of work.
 */
export const ACK_BATCH_MS = 250;

/**
 * After a batch that could not be delivered (the peer busy or briefly unreachable, the message's timeout hit), it is
 * sent again after these delays; recording an acknowledgement twice is a no-op at the issuer, so a batch that did
 * arrive but whose answer was lost costs nothing. After the last try it waits for the issuer's reconciliation.
 */
export const ACK_RETRY_DELAYS_MS = [1_000, 5_000] as const;

/**
 * Acknowledgements go back to each peer in batches: the first one waits `delayMs` for others to join it (up to a
 * page), so a busy channel costs one ledger stream per batch instead of one per request. A batch that cannot be
 * delivered is tried again (`ACK_RETRY_DELAYS_MS`); an acknowledgement is never lost either way: it is stored here,
 * and the issuer fetches what it still misses at its next reconciliation.
 */
export class AckBatcher {
  private readonly pending = new Map<string, { acks: string[]; timer: NodeJS.Timeout }>();
  /** Batches sent and not yet answered, per peer. */
  private readonly inFlight = new Map<string, Set<Promise<void>>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly transport: LedgerTransport,
    private readonly logger: Logger,
    private readonly delayMs = ACK_BATCH_MS,
    private readonly retryDelaysMs: readonly number[] = ACK_RETRY_DELAYS_MS,
  ) {}

  add(peerId: string, ack: string): void {
    const batch = this.pending.get(peerId);
    if (batch) {
      batch.acks.push(ack);
      if (batch.acks.length >= LEDGER_PAGE) this.flush(peerId);
      return;
    }
    const timer = setTimeout(() => this.flush(peerId), this.delayMs);
    timer.unref();
    this.pending.set(peerId, { acks: [ack], timer });
  }

  /** Sends what is waiting for `peerId` (or for every peer) now. */
  flush(peerId?: string): void {
    for (const id of peerId ? [peerId] : [...this.pending.keys()]) {
      const batch = this.pending.get(id);
      if (!batch) continue;
      this.pending.delete(id);
      clearTimeout(batch.timer);
      this.send(id, batch.acks, 0);
    }
  }

  /**
   * Sends what waits for `peerId` now and resolves once every batch to it has had its answer (or its failure): a
   * dispute goes after this, so the issuer sees a channel's acknowledgements and disputes in the order they were made
   * (a dispute arriving before the acknowledgement of an earlier receipt would be superseded by it).
   */
  async deliver(peerId: string): Promise<void> {
    const batch = this.pending.get(peerId);
    if (batch) {
      this.pending.delete(peerId);
      clearTimeout(batch.timer);
      this.send(peerId, batch.acks, 0);
    }
    await Promise.allSettled([...(this.inFlight.get(peerId) ?? [])]);
  }

  private send(peerId: string, acks: string[], attempt: number): void {
    const send = this.transport.request(peerId, { type: 'ack', acks })
      .then((answer) => {
        const reply = answer as { ok?: boolean; error?: string };
        if (!reply.ok) this.logger.warn({ peer: peerId, err: reply.error }, 'mesh: peer did not record some acknowledgements');
      })
      .catch((err: Error) => {
        const delay = this.retryDelaysMs[attempt];
        if (delay === undefined || this.closed) {
          this.logger.warn({ peer: peerId, acks: acks.length, err: err.message }, 'mesh: acknowledgements not delivered; the peer fetches them at its next reconciliation');
          return;
        }
        this.logger.info({ peer: peerId, acks: acks.length, err: err.message, retry_in_ms: delay }, 'mesh: acknowledgements not delivered; trying again');
        const timer = setTimeout(() => {
          this.retries.delete(timer);
          this.send(peerId, acks, attempt + 1);
        }, delay);
        timer.unref();
        this.retries.add(timer);
      })
      .finally(() => {
        const peer = this.inFlight.get(peerId);
        peer?.delete(send);
        if (peer?.size === 0) this.inFlight.delete(peerId);
      });
    const peer = this.inFlight.get(peerId) ?? new Set();
    peer.add(send);
    this.inFlight.set(peerId, peer);
  }

  /** Flushes and waits for every batch in flight (on shutdown); batches waiting to be retried are left to reconciliation. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    this.flush();
    await Promise.allSettled([...this.inFlight.values()].flatMap((sends) => [...sends]));
  }
}
