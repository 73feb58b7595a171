import { z } from 'zod';

/** Receipts sent per `fetch` answer, and sequence numbers per `acks` question; more is asked for in further pages. */
export const LEDGER_PAGE = 500;

/**
 * One request on `/meshgate/ledger/1.0.0` (protocol/receipts.md, "Transport"): acknowledgements (batched) or a
 * dispute of receipts, or a reconciliation question (channel heads, missing receipts, missing acknowledgements).
 */
export const ledgerMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ack'), acks: z.array(z.string().max(16_384)).min(1).max(LEDGER_PAGE) }).strict(),
  z.object({ type: z.literal('dispute'), dispute: z.string().max(16_384) }).strict(),
  z.object({ type: z.literal('heads') }).strict(),
  z.object({ type: z.literal('fetch'), channel: z.string().max(200), after: z.number().int().min(0) }).strict(),
  z.object({ type: z.literal('fetch_acks'), channel: z.string().max(200), seqs: z.array(z.number().int().min(1)).max(LEDGER_PAGE) }).strict(),
]);

export type LedgerMessage = z.infer<typeof ledgerMessageSchema>;
