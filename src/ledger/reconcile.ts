import { newReconcileReport, type Ledger, type ReconcileReport } from './ledger.js';
import { LEDGER_PAGE } from './ledger-messages.js';
import type { LedgerTransport } from './ledger-transport.js';
import { channelId, claimedPosition, isPartyOf, type ReceiptPayload } from './receipt.js';

/**
 * The price `peerId` advertises for `model` now, in receipt units (micro-USD per million tokens), or undefined when
 * this node does not know (no record of the peer, or the model is not in it). Receipts imported from that peer are
 * checked against it.
 */
export type AdvertisedPrice = (peerId: string, model: string) => ReceiptPayload['price'] | undefined;

/**
 * Reconciliation with one peer, both directions of what can be lost:
 * - receipts this node is missing (after a crash or data loss): channel heads are compared and the missing receipts
 *   fetched, each verified against the chain held here;
 * - acknowledgements of receipts this node issued that never reached it (the ack message was lost): the peer is
 *   asked for the acknowledgements it holds, each verified against the receipt held here.
 * Contradictions are reported, never papered over.
 */
export async function reconcileWithPeer(transport: LedgerTransport, ledger: Ledger, peerId: string, priceOf?: AdvertisedPrice): Promise<ReconcileReport[]> {
  const answer = (await transport.request(peerId, { type: 'heads' })) as { heads?: Array<{ channel: string; seq: number }> };
  const reports = new Map<string, ReconcileReport>();
  const reportFor = (channel: string) => reports.get(channel) ?? reports.set(channel, newReconcileReport(channel)).get(channel)!;
  for (const head of answer.heads ?? []) {
    if (!isPartyOf(head.channel, ledger.selfId) || !isPartyOf(head.channel, peerId)) continue;
    const fetched = await fetchMissing(transport, ledger, peerId, head.channel, head.seq, priceOf);
    const report = reportFor(head.channel);
    report.imported += fetched.imported;
    report.conflicts.push(...fetched.conflicts);
  }

  const served = channelId(ledger.selfId, peerId);
  const open = (await ledger.openReceipts(peerId)).map((r) => r.seq);
  for (let i = 0; i < open.length; i += LEDGER_PAGE) {
    const page = (await transport.request(peerId, { type: 'fetch_acks', channel: served, seqs: open.slice(i, i + LEDGER_PAGE) })) as { acks?: Array<{ seq: number; ack: string }> };
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
export async function fetchMissing(transport: LedgerTransport, ledger: Ledger, peerId: string, channel: string, until: number, priceOf?: AdvertisedPrice): Promise<ReconcileReport> {
  const report = newReconcileReport(channel);
  let after = await ledger.headSeq(channel);
  while (after < until) {
    const page = (await transport.request(peerId, { type: 'fetch', channel, after })) as { receipts?: Array<{ jws: string; ack?: string }> };
    const wanted = (page.receipts ?? []).filter((r) => (claimedPosition(r.jws)?.seq ?? 0) <= until);
    if (wanted.length === 0) break;
    const imported = await ledger.importChannel(channel, wanted, priceOf && ((model) => priceOf(peerId, model)));
    report.imported += imported.imported;
    report.conflicts.push(...imported.conflicts);
    // A contradiction stops the chain here: asking again would only report it again (the next round retries).
    if (imported.imported === 0 || imported.conflicts.length > 0) break;
    after += imported.imported;
  }
  return report;
}
