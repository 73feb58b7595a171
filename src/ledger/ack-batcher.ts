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
 * Acknowledgements go back to each peer in batches: the first one waits `delayMs` for others to join it (up to a
 * page), so a busy channel costs one ledger stream per batch instead of one per request. An acknowledgement that
 * cannot be delivered is not lost: it is stored here, and the issuer fetches it at its next reconciliation.
 */
export class AckBatcher {
  private readonly pending = new Map<string, { acks: string[]; timer: NodeJS.Timeout }>();
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly transport: LedgerTransport,
    private readonly logger: Logger,
    private readonly delayMs = ACK_BATCH_MS,
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
      const send = this.transport.request(id, { type: 'ack', acks: batch.acks })
        .then((answer) => {
          const reply = answer as { ok?: boolean; error?: string };
          if (!reply.ok) this.logger.warn({ peer: id, err: reply.error }, 'mesh: peer did not record some acknowledgements');
        })
        .catch((err: Error) => this.logger.warn({ peer: id, acks: batch.acks.length, err: err.message }, 'mesh: acknowledgements not delivered; the peer fetches them at its next reconciliation'))
        .finally(() => this.sending.delete(send));
      this.sending.add(send);
    }
  }

  /** Flushes and waits for every batch in flight (on shutdown). */
  async close(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.sending]);
  }
}
