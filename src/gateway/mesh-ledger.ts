import type { Logger } from 'pino';
import { LEDGER_PAGE, channelId, claimedPosition, isPartyOf, ledgerMessageSchema, newReconcileReport, type Ledger, type Measured, type ReconcileReport } from '../ledger/index.js';
import type { MeshNode } from '../mesh/index.js';

/** `/meshgate/ledger/1.0.0` (protocol/receipts.md, "Transport"): acknowledgements, disputes and reconciliation. */
export const LEDGER_PROTOCOL = '/meshgate/ledger/1.0.0';

/** Receipts a requester fetches to close a gap before checking a new receipt; beyond this it disputes instead. */
const MAX_GAP = 2 * LEDGER_PAGE;

export function ledgerMessageHandler(ledger: Ledger) {
  return async (raw: unknown, peerId: string): Promise<unknown> => {
    const parsed = ledgerMessageSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, error: 'malformed ledger message' };
    const message = parsed.data;
    switch (message.type) {
      case 'ack': {
        // Each acknowledgement stands alone: one that does not verify is reported, the others are recorded.
        const errors: string[] = [];
        for (const ack of message.acks) await ledger.recordAck(ack, peerId).catch((err: Error) => errors.push(err.message));
        return errors.length ? { ok: false, error: `${errors.length} of ${message.acks.length} acknowledgements refused: ${errors[0]}` } : { ok: true };
      }
      case 'dispute':
        await ledger.recordDispute(message.dispute, peerId);
        return { ok: true };
      case 'heads':
        return { ok: true, heads: (await ledger.channelHeads()).filter((h) => isPartyOf(h.channel, peerId)) };
      case 'fetch':
        if (!isPartyOf(message.channel, peerId)) return { ok: false, error: 'not a party of that channel' };
        return { ok: true, receipts: await ledger.receiptsAfter(message.channel, message.after, LEDGER_PAGE) };
      case 'fetch_acks':
        if (!isPartyOf(message.channel, peerId)) return { ok: false, error: 'not a party of that channel' };
        return { ok: true, acks: await ledger.acksFor(message.channel, message.seqs) };
    }
  };
}

/**
 * Requesting side of one forwarded request: checks the peer's receipt against what this node measured and the price
 * the peer advertised, then sends the acknowledgement or the dispute back to it. A receipt further ahead than the
 * next sequence number means this node lost earlier ones (a crash before it stored them): it reconciles with the peer
 * first, so the chain is whole again and this receipt is not disputed for a gap that was this node's own. Never
 * throws: a peer that cannot be reached now gets the acknowledgement through reconciliation later (it stays counted
 * as unacknowledged there until then).
 */
export async function settleReceipt(ctx: SettleContext, peerId: string, requestId: string, receipt: string, measured: Measured): Promise<void> {
  const { mesh, ledger, logger } = ctx;
  try {
    const claimed = claimedPosition(receipt);
    const head = claimed ? await ledger.headSeq(claimed.channel) : 0;
    // A gap is followed only so far: a peer claiming thousands of receipts this node never saw gets a dispute.
    if (claimed && claimed.channel === channelId(peerId, ledger.selfId) && claimed.seq > head + 1 && claimed.seq - head <= MAX_GAP) {
      // Only those before this receipt: this one is checked and acknowledged normally below.
      const report = await fetchMissing(mesh, ledger, peerId, claimed.channel, claimed.seq - 1).catch((err: Error) => {
        logger.warn({ peer: peerId, err: err.message }, 'mesh: could not fetch the receipts this node is missing');
        return undefined;
      });
      if (report) logger.info({ peer: peerId, imported: report.imported, conflicts: report.conflicts }, 'mesh: receipts this node had lost were fetched from the peer');
    }
    const result = await ledger.accept(receipt, peerId, requestId, measured);
    if (result.accepted) return ctx.acks.add(peerId, result.ack);
    logger.warn({ peer: peerId, requestId, reason: result.reason }, 'mesh: receipt disputed');
    await mesh.sendMessage(peerId, LEDGER_PROTOCOL, { type: 'dispute', dispute: result.dispute });
  } catch (err) {
    logger.warn({ peer: peerId, requestId, err: (err as Error).message }, 'mesh: receipt settlement incomplete');
  }
}

export interface SettleContext {
  mesh: MeshNode;
  ledger: Ledger;
  logger: Logger;
  acks: AckBatcher;
}

/**
 * Acknowledgements go back to each peer in batches: the first one waits `delayMs` for others to join it (up to a
 * page), so a busy channel costs one ledger stream per batch instead of one per request. An acknowledgement that
 * cannot be delivered is not lost: it is stored here, and the issuer fetches it at its next reconciliation.
 */
export class AckBatcher {
  private readonly pending = new Map<string, { acks: string[]; timer: NodeJS.Timeout }>();
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly mesh: MeshNode,
    private readonly logger: Logger,
    private readonly delayMs = 50,
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
      const send = this.mesh.sendMessage(id, LEDGER_PROTOCOL, { type: 'ack', acks: batch.acks })
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

/**
 * Reconciliation with one peer, both directions of what can be lost:
 * - receipts this node is missing (after a crash or data loss): channel heads are compared and the missing receipts
 *   fetched, each verified against the chain held here;
 * - acknowledgements of receipts this node issued that never reached it (the ack message was lost): the peer is
 *   asked for the acknowledgements it holds, each verified against the receipt held here.
 * Contradictions are reported, never papered over.
 */
export async function reconcileWithPeer(mesh: MeshNode, ledger: Ledger, peerId: string): Promise<ReconcileReport[]> {
  const answer = (await mesh.sendMessage(peerId, LEDGER_PROTOCOL, { type: 'heads' })) as { heads?: Array<{ channel: string; seq: number }> };
  const reports = new Map<string, ReconcileReport>();
  const reportFor = (channel: string) => reports.get(channel) ?? reports.set(channel, newReconcileReport(channel)).get(channel)!;
  for (const head of answer.heads ?? []) {
    if (!isPartyOf(head.channel, ledger.selfId) || !isPartyOf(head.channel, peerId)) continue;
    const fetched = await fetchMissing(mesh, ledger, peerId, head.channel, head.seq);
    const report = reportFor(head.channel);
    report.imported += fetched.imported;
    report.conflicts.push(...fetched.conflicts);
  }

  const served = channelId(ledger.selfId, peerId);
  const open = (await ledger.openReceipts(peerId)).map((r) => r.seq);
  for (let i = 0; i < open.length; i += LEDGER_PAGE) {
    const page = (await mesh.sendMessage(peerId, LEDGER_PROTOCOL, { type: 'fetch_acks', channel: served, seqs: open.slice(i, i + LEDGER_PAGE) })) as { acks?: Array<{ seq: number; ack: string }> };
    for (const { seq, ack } of page.acks ?? []) {
      try {
        if (await ledger.recordAck(ack, peerId)) reportFor(served).acknowledged++;
      } catch (err) {
        reportFor(served).conflicts.push({ seq, reason: `acknowledgement does not verify: ${(err as Error).message}` });
      }
    }
  }
  return [...reports.values()].filter((r) => r.imported > 0 || r.acknowledged > 0 || r.conflicts.length > 0);
}

/** Fetches and imports the receipts of `channel` after this node's head up to `until` (inclusive), page by page. */
async function fetchMissing(mesh: MeshNode, ledger: Ledger, peerId: string, channel: string, until: number): Promise<ReconcileReport> {
  const report = newReconcileReport(channel);
  let after = await ledger.headSeq(channel);
  while (after < until) {
    const page = (await mesh.sendMessage(peerId, LEDGER_PROTOCOL, { type: 'fetch', channel, after })) as { receipts?: Array<{ jws: string; ack?: string }> };
    const wanted = (page.receipts ?? []).filter((r) => (claimedPosition(r.jws)?.seq ?? 0) <= until);
    if (wanted.length === 0) break;
    const imported = await ledger.importChannel(channel, wanted);
    report.imported += imported.imported;
    report.conflicts.push(...imported.conflicts);
    if (imported.imported === 0) break;
    after += imported.imported;
  }
  return report;
}
