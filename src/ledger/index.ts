export { DEFERRED_WRITE_MS, Ledger, MAX_NOTED_PER_CHANNEL, newReconcileReport } from './ledger.js';
export { RECEIPT_JOURNAL_DIR, ReceiptJournal } from './receipt-journal.js';
export type { Acceptance, JournalReplay, LedgerOptions, Measured, PeerLedger, PeerReconciliation, ReconcileReport, StoredReceipt } from './ledger.js';
export { CreditReservations } from './credit-reservations.js';
export type { CreditAdmission, CreditReservation } from './credit-reservations.js';
export { USAGE_BOUND_FACTOR, USAGE_BOUND_SLACK, boundedUsage, hiddenOutputAllowance, usageBound, withinBound } from './usage-bound.js';
export type { MeasuredTokens } from './usage-bound.js';
export {
  ACK_TYP, DISPUTE_TYP, RECEIPT_TYP, ReceiptError, channelId, channelParties, claimedPosition, isPartyOf, costMicros, receiptHash, receiptPayloadSchema, signAck, signDispute,
  signReceipt, verifyAck, verifyDispute, verifyReceipt,
} from './receipt.js';
export type { DisputePayload, ReceiptPayload } from './receipt.js';
export { signingKeyFromRaw, verifyingKeyFromPeerId } from './keys.js';
export { JwsError, parseCompact, signCompact, verifyCompact } from './compact-jws.js';
export type { ParsedJws } from './compact-jws.js';
export { LEDGER_PAGE, ledgerMessageSchema } from './ledger-messages.js';
export type { LedgerMessage } from './ledger-messages.js';
export { ledgerRoutes } from './routes.js';
export { verifyReceiptSet } from './verify-export.js';
export type { ChannelReport } from './verify-export.js';
export { runReceiptsCommand } from './receipts-command.js';
export { LEDGER_PROTOCOL } from './ledger-transport.js';
export type { LedgerTransport } from './ledger-transport.js';
export { ledgerMessageHandler } from './message-handler.js';
export { ACK_BATCH_MS, ACK_RETRY_DELAYS_MS, AckBatcher } from './ack-batcher.js';
export { ReceiptSettler } from './settle-receipt.js';
export type { SettleContext } from './settle-receipt.js';
export { reconcileWithPeer } from './reconcile.js';
export type { AdvertisedPrice } from './reconcile.js';
export { LedgerReconciler } from './reconciler.js';
export type { ReconcilerOptions } from './reconciler.js';
