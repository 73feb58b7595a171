import type { LedgerMessage } from './ledger-messages.js';

/** `/meshgate/ledger/1.0.0` (protocol/receipts.md, "Transport"): acknowledgements, disputes and reconciliation. */
export const LEDGER_PROTOCOL = '/meshgate/ledger/1.0.0';

/**
 * What ledger sync needs from the network: one ledger message to a peer, its answer back (the mesh carries it on
 * `LEDGER_PROTOCOL`, one length-prefixed JSON message each way). Answers are untrusted input: every receipt or
 * acknowledgement in one is verified by the `Ledger` before it is recorded.
 */
export interface LedgerTransport {
  request(peerId: string, message: LedgerMessage): Promise<unknown>;
}
