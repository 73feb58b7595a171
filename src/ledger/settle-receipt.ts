import type { Logger } from 'pino';
import type { AckBatcher } from './ack-batcher.js';
import type { Ledger, Measured } from './ledger.js';
import { LEDGER_PAGE } from './ledger-messages.js';
import type { LedgerTransport } from './ledger-transport.js';
import { fetchMissing, type AdvertisedPrice } from './reconcile.js';
import { channelId, claimedPosition } from './receipt.js';

/** Receipts a requester fetches to close a gap before checking a new receipt; beyond this it disputes instead. */
const MAX_GAP = 2 * LEDGER_PAGE;

export interface SettleContext {
  transport: LedgerTransport;
  ledger: Ledger;
  logger: Logger;
  acks: AckBatcher;
  /** Prices peers advertise now, to check the receipts fetched to close a gap. */
  priceOf?: AdvertisedPrice;
}

/**
 * Requesting side of forwarded requests, one per node: checks each peer's receipt against what this node measured
 * and the price the peer advertised, then sends the acknowledgement or the dispute back to it. A receipt further
 * ahead than the next sequence number means this node lost earlier ones (a crash before it stored them): it
 * reconciles with the peer first, so the chain is whole again and this receipt is not disputed for a gap that was
 * this node's own. Never throws: a peer that cannot be reached now gets the acknowledgement through reconciliation
 * later (it stays counted as unacknowledged there until then).
 *
 * The queues are this node's own state (not module state shared by every node in the process), so a node's stop can
 * wait for its settlements in flight before it sends its last acknowledgements.
 */
export class ReceiptSettler {
  /** The settlement in progress (or last queued) per peer. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(private readonly ctx: SettleContext) {}

  settle(peerId: string, requestId: string, receipt: string, measured: Measured): Promise<void> {
    // One peer's receipts are settled one after the other, in the order they arrived: the next forward's receipt
    // often arrives while the previous one is still being checked, and would otherwise see the previous one as a gap
    // and fetch it from the peer again (a ledger round trip and a signature check per request, for nothing).
    // The first of a run starts on the next turn of the event loop: the trailer that carried the receipt is handed to
    // the pipeline now, and checking the signature and countersigning it (the two Ed25519 operations of a forward on
    // this side) waits until the answer has been written to the client instead of delaying it.
    const queues = this.#queues;
    const settled = (queues.get(peerId) ?? nextTurn()).then(() => settleNow(this.ctx, peerId, requestId, receipt, measured));
    queues.set(peerId, settled);
    void settled.then(() => {
      if (queues.get(peerId) === settled) queues.delete(peerId);
    });
    return settled;
  }

  /** Resolves once every settlement queued so far (and any queued while waiting) has finished: before the last acks go out on stop. */
  async drain(): Promise<void> {
    while (this.#queues.size > 0) await Promise.all([...this.#queues.values()]);
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function settleNow(ctx: SettleContext, peerId: string, requestId: string, receipt: string, measured: Measured): Promise<void> {
  const { transport, ledger, logger } = ctx;
  try {
    const claimed = claimedPosition(receipt);
    const head = claimed ? await ledger.headSeq(claimed.channel) : 0;
    // A gap is followed only so far: a peer claiming thousands of receipts this node never saw gets a dispute.
    if (claimed && claimed.channel === channelId(peerId, ledger.selfId) && claimed.seq > head + 1 && claimed.seq - head <= MAX_GAP) {
      // Only those before this receipt: this one is checked and acknowledged normally below.
      const report = await fetchMissing(transport, ledger, peerId, claimed.channel, claimed.seq - 1, ctx.priceOf).catch((err: Error) => {
        logger.warn({ peer: peerId, err: err.message }, 'mesh: could not fetch the receipts this node is missing');
        return undefined;
      });
      if (report) logger.info({ peer: peerId, imported: report.imported, conflicts: report.conflicts }, 'mesh: receipts this node had lost were fetched from the peer');
    }
    const result = await ledger.accept(receipt, peerId, requestId, measured);
    if (result.accepted) return ctx.acks.add(peerId, result.ack);
    logger.warn({ peer: peerId, requestId, reason: result.reason }, 'mesh: receipt disputed');
    // Acknowledgements of earlier receipts still waiting in their batch go first: the issuer must see them before this.
    await ctx.acks.deliver(peerId);
    await transport.request(peerId, { type: 'dispute', dispute: result.dispute });
  } catch (err) {
    logger.warn({ peer: peerId, requestId, err: (err as Error).message }, 'mesh: receipt settlement incomplete');
  }
}
