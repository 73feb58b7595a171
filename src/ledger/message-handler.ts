import type { Ledger } from './ledger.js';
import { LEDGER_PAGE, ledgerMessageSchema } from './ledger-messages.js';
import { isPartyOf } from './receipt.js';

/** Serving side of `/meshgate/ledger/1.0.0`: answers one ledger message from `peerId`. */
export function ledgerMessageHandler(ledger: Ledger) {
  return async (raw: unknown, peerId: string): Promise<unknown> => {
    const parsed = ledgerMessageSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, error: 'malformed ledger message' };
    const message = parsed.data;
    switch (message.type) {
      case 'ack': {
        // Each acknowledgement stands alone: one that does not verify is reported, the others are recorded.
        const errors = (await ledger.recordAcks(message.acks, peerId)).filter((result) => result instanceof Error);
        return errors.length ? { ok: false, error: `${errors.length} of ${message.acks.length} acknowledgements refused: ${errors[0]!.message}` } : { ok: true };
      }
      case 'dispute':
        await ledger.recordDispute(message.dispute, peerId);
        return { ok: true };
      case 'heads':
        return { ok: true, heads: await ledger.headsWith(peerId) };
      case 'fetch':
        if (!isPartyOf(message.channel, peerId)) return { ok: false, error: 'not a party of that channel' };
        return { ok: true, receipts: await ledger.receiptsAfter(message.channel, message.after, LEDGER_PAGE) };
      case 'fetch_acks':
        if (!isPartyOf(message.channel, peerId)) return { ok: false, error: 'not a party of that channel' };
        return { ok: true, acks: await ledger.acksFor(message.channel, message.seqs) };
    }
  };
}
