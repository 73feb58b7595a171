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
  const answer = await transport.request(peerId, { type: 'heads' });
  const reports = new Map<string, ReconcileReport>();
  const reportFor = (channel: string) => reports.get(channel) ?? reports.set(channel, newReconcileReport(channel)).get(channel)!;
  for (const [channel, seq] of sharedHeads(answer, ledger.selfId, peerId)) {
    const fetched = await fetchMissing(transport, ledger, peerId, channel, seq, priceOf);
    const report = reportFor(channel);
    report.imported += fetched.imported;
    report.conflicts.push(...fetched.conflicts);
  }

  const served = channelId(ledger.selfId, peerId);
  // Disputed receipts are asked about too: the subject's acknowledgement, if it holds one, overrides its dispute.
  const open = (await ledger.openReceipts(peerId, { disputed: true })).map((r) => r.seq);
  for (let i = 0; i < open.length; i += LEDGER_PAGE) {
    const asked = open.slice(i, i + LEDGER_PAGE);
    const page = await transport.request(peerId, { type: 'fetch_acks', channel: served, seqs: asked });
    for (const { seq, ack } of ackItems(page, new Set(asked))) {
      try {
        if (await ledger.recordAck(ack, peerId)) reportFor(served).acknowledged++;
      } catch (err) {
        reportFor(served).conflicts.push({ seq, reason: `acknowledgement does not verify: ${(err as Error).message}` });
      }
    }
  }
  return [...reports.values()].filter((r) => r.imported > 0 || r.acknowledged > 0 || r.conflicts.length > 0);
}

/**
 * The heads of a peer's `heads` answer worth fetching: channels between this node and that peer only (there are two),
 * each once, at the highest sequence number the answer gives for it — an answer that repeats a channel costs one
 * fetch, not one per repeat. Entries that are not a head are skipped.
 */
function sharedHeads(answer: unknown, selfId: string, peerId: string): Map<string, number> {
  const heads = new Map<string, number>();
  const list = (answer as { heads?: unknown } | null)?.heads;
  for (const head of Array.isArray(list) ? list : []) {
    const { channel, seq } = (head ?? {}) as { channel?: unknown; seq?: unknown };
    if (typeof channel !== 'string' || !Number.isSafeInteger(seq) || !isPartyOf(channel, selfId) || !isPartyOf(channel, peerId)) continue;
    heads.set(channel, Math.max(heads.get(channel) ?? 0, seq as number));
  }
  return heads;
}

/** The well-formed `{jws, ack?}` items of a `fetch` answer. */
function receiptItems(answer: unknown): Array<{ jws: string; ack?: string }> {
  const list = (answer as { receipts?: unknown } | null)?.receipts;
  return (Array.isArray(list) ? list : []).filter(
    (r): r is { jws: string; ack?: string } => typeof r?.jws === 'string' && (r.ack === undefined || typeof r.ack === 'string'),
  );
}

/** The well-formed `{seq, ack}` items of a `fetch_acks` answer, for sequence numbers that were asked about, once each. */
function ackItems(answer: unknown, asked: Set<number>): Array<{ seq: number; ack: string }> {
  const list = (answer as { acks?: unknown } | null)?.acks;
  const items = (Array.isArray(list) ? list : []).filter((a): a is { seq: number; ack: string } => typeof a?.ack === 'string' && asked.has(a.seq));
  return [...new Map(items.map((a) => [a.seq, a] as const)).values()];
}

/** Fetches and imports the receipts of `channel` after this node's head up to `until` (inclusive), page by page. */
export async function fetchMissing(transport: LedgerTransport, ledger: Ledger, peerId: string, channel: string, until: number, priceOf?: AdvertisedPrice): Promise<ReconcileReport> {
  const report = newReconcileReport(channel);
  let after = await ledger.headSeq(channel);
  while (after < until) {
    const page = await transport.request(peerId, { type: 'fetch', channel, after });
    // A page is at most LEDGER_PAGE receipts, whatever the peer sends: each one costs a signature check.
    const wanted = receiptItems(page).slice(0, LEDGER_PAGE).filter((r) => (claimedPosition(r.jws)?.seq ?? 0) <= until);
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
