import type { Logger } from 'pino';
import type { Ledger, PeerReconciliation } from './ledger.js';
import type { LedgerTransport } from './ledger-transport.js';
import { reconcileWithPeer, type AdvertisedPrice } from './reconcile.js';
import { channelParties } from './receipt.js';

export interface ReconcilerOptions {
  /** Time between automatic rounds over every counterparty; 0 = on demand only. */
  intervalMs: number;
  /**
   * Calls its listener with a peer's id whenever this node learns of that peer being there (its record arrived);
   * returns an unsubscribe. The first sight of each peer after start triggers a reconciliation with it.
   */
  peerSeen?: (listener: (peerId: string) => void) => () => void;
  /** Prices peers advertise now, to check the receipts fetched from them. */
  priceOf?: AdvertisedPrice;
}

/**
 * Keeps both sides' ledgers whole without an operator: reconciles with each peer the first time its record arrives
 * after this node starts (either side may have lost data while apart) and with every counterparty on a fixed
 * interval; `reconcile()` runs it on demand.
 * One run per peer at a time; a run that finds contradictions logs them and keeps them for the ledger view.
 */
export class LedgerReconciler {
  private readonly last = new Map<string, PeerReconciliation>();
  private readonly running = new Map<string, Promise<PeerReconciliation>>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly transport: LedgerTransport,
    private readonly ledger: Ledger,
    private readonly logger: Logger,
    private readonly options: ReconcilerOptions,
  ) {}

  start(): void {
    if (this.options.intervalMs <= 0) return;
    this.unsubscribe = this.options.peerSeen?.((peerId) => {
      if (peerId === this.ledger.selfId) return;
      // First sight of a peer since this node started: it may hold what this node lost, or lack what it sent.
      if (this.last.has(peerId) || this.running.has(peerId)) return;
      void this.reconcilePeer(peerId);
    });
    this.timer = setInterval(() => void this.reconcile(), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    await Promise.allSettled([...this.running.values()]);
  }

  /** The last run with each peer. */
  results(): Map<string, PeerReconciliation> {
    return this.last;
  }

  /** Reconciles with one peer, or with every peer this node has receipts with (one after the other). */
  async reconcile(peer?: string): Promise<PeerReconciliation[]> {
    const peers = peer ? [peer] : await this.counterparties();
    const results: PeerReconciliation[] = [];
    for (const id of peers) {
      if (this.stopped) break;
      results.push(await this.reconcilePeer(id));
    }
    return results;
  }

  /** Every peer this node shares a receipt channel with (one entry per channel: no scan of the receipts). */
  private async counterparties(): Promise<string[]> {
    const peers = new Set<string>();
    for (const { channel } of await this.ledger.channelHeads()) {
      for (const party of channelParties(channel) ?? []) if (party !== this.ledger.selfId) peers.add(party);
    }
    return [...peers];
  }

  private reconcilePeer(peer: string): Promise<PeerReconciliation> {
    const current = this.running.get(peer);
    if (current) return current;
    const run = this.run(peer).finally(() => this.running.delete(peer));
    this.running.set(peer, run);
    return run;
  }

  private async run(peer: string): Promise<PeerReconciliation> {
    const result: PeerReconciliation = { peer, at: new Date().toISOString(), imported: 0, acknowledged: 0, conflicts: [] };
    try {
      for (const report of await reconcileWithPeer(this.transport, this.ledger, peer, this.options.priceOf)) {
        result.imported += report.imported;
        result.acknowledged += report.acknowledged;
        result.conflicts.push(...report.conflicts.map((c) => ({ channel: report.channel, ...c })));
      }
      if (result.conflicts.length > 0) this.logger.warn({ peer, conflicts: result.conflicts }, 'mesh: reconciliation found receipts that contradict this node\'s ledger');
      else if (result.imported || result.acknowledged) this.logger.info({ peer, imported: result.imported, acknowledged: result.acknowledged }, 'mesh: ledger reconciled');
    } catch (err) {
      result.error = (err as Error).message;
      this.logger.warn({ peer, err: result.error }, 'mesh: reconciliation failed; retried on the next round');
    }
    this.last.set(peer, result);
    return result;
  }
}
