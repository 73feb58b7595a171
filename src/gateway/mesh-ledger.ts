import type { Logger } from 'pino';
import { z } from 'zod';
import type { Ledger, Measured, ReconcileReport } from '../ledger/index.js';
import type { MeshNode } from '../mesh/index.js';

/** `/meshgate/ledger/1.0.0` (protocol/receipts.md, "Transport"): acknowledgements, disputes and reconciliation. */
export const LEDGER_PROTOCOL = '/meshgate/ledger/1.0.0';

const messageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ack'), ack: z.string().max(16_384) }),
  z.object({ type: z.literal('dispute'), dispute: z.string().max(16_384) }),
  z.object({ type: z.literal('heads') }),
  z.object({ type: z.literal('fetch'), channel: z.string().max(200), after: z.number().int().min(0) }),
]);

/** Receipts sent per fetch answer; a node that is further behind fetches again. */
const FETCH_PAGE = 500;

/** A channel the asking peer is party to (issuer or subject), so nobody can read others' receipts. */
const partyOf = (channel: string, peerId: string) => channel.split('>').includes(peerId);

export function ledgerMessageHandler(ledger: Ledger) {
  return async (raw: unknown, peerId: string): Promise<unknown> => {
    const parsed = messageSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, error: 'malformed ledger message' };
    const message = parsed.data;
    switch (message.type) {
      case 'ack':
        await ledger.recordAck(message.ack);
        return { ok: true };
      case 'dispute':
        await ledger.recordDispute(message.dispute);
        return { ok: true };
      case 'heads':
        return { ok: true, heads: (await ledger.channelHeads()).filter((h) => partyOf(h.channel, peerId)) };
      case 'fetch':
        if (!partyOf(message.channel, peerId)) return { ok: false, error: 'not a party of that channel' };
        return { ok: true, receipts: (await ledger.receiptsAfter(message.channel, message.after)).slice(0, FETCH_PAGE) };
    }
  };
}

/**
 * Requesting side of one forwarded request: checks the peer's receipt against what this node measured and the price
 * the peer advertised, then sends the acknowledgement or the dispute back to it. Never throws: a peer that cannot be
 * reached now gets the acknowledgement through reconciliation later (it stays counted as unacknowledged there).
 */
export async function settleReceipt(mesh: MeshNode, ledger: Ledger, logger: Logger, peerId: string, requestId: string, receipt: string, measured: Measured): Promise<void> {
  try {
    const result = await ledger.accept(receipt, peerId, requestId, measured);
    const message = result.accepted ? { type: 'ack', ack: result.ack } : { type: 'dispute', dispute: result.dispute };
    if (!result.accepted) logger.warn({ peer: peerId, requestId, reason: result.reason }, 'mesh: receipt disputed');
    await mesh.sendMessage(peerId, LEDGER_PROTOCOL, message);
  } catch (err) {
    logger.warn({ peer: peerId, requestId, err: (err as Error).message }, 'mesh: receipt settlement incomplete');
  }
}

/**
 * Reconciliation with one peer: compares channel heads and fetches the receipts this node is missing (after a crash
 * or data loss), verifying each against the chain it holds. Contradictions are reported, never papered over.
 */
export async function reconcileWithPeer(mesh: MeshNode, ledger: Ledger, peerId: string): Promise<ReconcileReport[]> {
  const answer = (await mesh.sendMessage(peerId, LEDGER_PROTOCOL, { type: 'heads' })) as { heads?: Array<{ channel: string; seq: number }> };
  const mine = new Map((await ledger.channelHeads()).map((h) => [h.channel, h.seq]));
  const reports: ReconcileReport[] = [];
  for (const head of answer.heads ?? []) {
    if (!partyOf(head.channel, ledger.selfId)) continue;
    let after = mine.get(head.channel) ?? 0;
    const report: ReconcileReport = { channel: head.channel, imported: 0, conflicts: [] };
    while (after < head.seq) {
      const page = (await mesh.sendMessage(peerId, LEDGER_PROTOCOL, { type: 'fetch', channel: head.channel, after })) as { receipts?: Array<{ jws: string; ack?: string }> };
      if (!page.receipts?.length) break;
      const imported = await ledger.importChannel(head.channel, page.receipts);
      report.imported += imported.imported;
      report.conflicts.push(...imported.conflicts);
      if (imported.imported === 0) break;
      after += imported.imported;
    }
    if (report.imported > 0 || report.conflicts.length > 0) reports.push(report);
  }
  return reports;
}
