import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { microsToUsd } from '../core/index.js';
import { badRequest } from '../errors/index.js';
import { listOf, type RouteDoc } from '../openapi/index.js';
import { csvField } from '../records/record-export.js';
import type { Ledger, PeerReconciliation, StoredReceipt } from './ledger.js';

/** What the routes need from the reconciler (reconciler.ts). */
export interface ReconcileRunner {
  reconcile(peer?: string): Promise<PeerReconciliation[]>;
  results(): Map<string, PeerReconciliation>;
}

const usd = microsToUsd;
const querySchema = z.object({ peer: z.string().min(1).optional(), format: z.enum(['json', 'csv']).default('json') }).strict();
const reconcileSchema = z.object({ peer: z.string().min(1).max(200).optional() }).strict();

const receiptRowSchema = z.object({
  channel: z.string(), seq: z.number().int(), issuer: z.string(), subject: z.string(), request_id: z.string(), model: z.string(),
  cost_usd: z.number(), total_usd: z.number(), issued_at: z.string(), acknowledged: z.boolean(),
  disputed: z.string().nullable().describe('The dispute reason, if the consumer disputed the receipt.'),
  jws: z.string().describe('The receipt as signed (compact JWS).'), ack: z.string().nullable(),
});
const reconciliationSchema = z.looseObject({}).describe('The outcome of the last reconciliation with the peer.');
const ledgerPeerSchema = z.object({
  peer: z.string(),
  served: z.object({ receipts: z.number().int(), total_usd: z.number(), last_seq: z.number().int(), unacknowledged_usd: z.number() }),
  consumed: z.object({ receipts: z.number().int(), total_usd: z.number(), last_seq: z.number().int(), claimed_unacknowledged_usd: z.number() }),
  balance_usd: z.number().describe('Served minus consumed: positive when the peer owes this node.'),
  disputes: z.number().int(),
  last_reconciliation: reconciliationSchema.nullable(),
});

const docs = {
  ledger: { tag: 'Mesh', summary: 'The usage ledger: totals and balance per peer', responses: { 200: { description: 'One entry per peer.', schema: z.object({ peer_id: z.string(), data: z.array(ledgerPeerSchema) }) } } },
  reconcile: {
    tag: 'Mesh', summary: 'Reconcile receipts with one peer or every peer now', body: reconcileSchema, bodyExample: {},
    responses: { 200: { description: 'One result per peer.', schema: listOf(reconciliationSchema.extend({ peer: z.string() })) } },
  },
  receipts: {
    tag: 'Mesh', summary: 'Receipts (JSON, or CSV for settlement)', query: querySchema,
    responses: { 200: { description: 'The receipts, oldest first.', schema: listOf(receiptRowSchema), alternatives: { 'text/csv': z.string() } } },
  },
} satisfies Record<string, RouteDoc>;

function row(r: StoredReceipt) {
  return {
    channel: r.channel, seq: r.seq, issuer: r.issuer, subject: r.subject, request_id: r.requestId, model: r.model,
    cost_usd: usd(r.cost), total_usd: usd(r.total), issued_at: new Date(r.iat).toISOString(),
    acknowledged: Boolean(r.ack), disputed: r.dispute ? r.dispute.reason : null, jws: r.jws, ack: r.ack ?? null,
  };
}

/** The last reconciliation with `peer`, as the ledger view shows it (the peer is the row's own). */
function lastReconciliation(reconciler: ReconcileRunner | undefined, peer: string) {
  const result = reconciler?.results().get(peer);
  if (!result) return null;
  const { peer: _peer, ...rest } = result;
  return rest;
}

/**
 * GET /v1/mesh/ledger (per-peer totals), GET /v1/mesh/receipts (JSON or CSV, for settlement) and
 * POST /v1/mesh/reconcile (run reconciliation now). Operator routes.
 */
export function ledgerRoutes(ledger: Ledger, reconciler?: ReconcileRunner): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/mesh/ledger', { config: { doc: docs.ledger } }, async () => ({
      peer_id: ledger.selfId,
      data: (await ledger.summary()).map((p) => ({
        peer: p.peer,
        served: { receipts: p.served.receipts, total_usd: usd(p.served.totalMicros), last_seq: p.served.lastSeq, unacknowledged_usd: usd(p.served.unacknowledgedMicros) },
        consumed: { receipts: p.consumed.receipts, total_usd: usd(p.consumed.totalMicros), last_seq: p.consumed.lastSeq, claimed_unacknowledged_usd: usd(p.consumed.claimedMicros) },
        balance_usd: usd(p.balanceMicros),
        disputes: p.disputes,
        last_reconciliation: lastReconciliation(reconciler, p.peer),
      })),
    }));

    // Body optional: {"peer": "<peer id>"} reconciles with that peer only; otherwise with every peer in the ledger.
    app.post('/v1/mesh/reconcile', { config: { doc: docs.reconcile } }, async (request) => {
      if (!reconciler) throw badRequest('This node has no mesh ledger to reconcile.');
      const parsed = reconcileSchema.safeParse(request.body ?? {});
      if (!parsed.success) throw badRequest(`Invalid body: ${parsed.error.issues[0]!.message}`, String(parsed.error.issues[0]!.path[0] ?? ''));
      const results = await reconciler.reconcile(parsed.data.peer);
      return { object: 'list', data: results };
    });

    app.get('/v1/mesh/receipts', { config: { doc: docs.receipts } }, async (request, reply) => {
      const parsed = querySchema.safeParse(request.query);
      if (!parsed.success) throw badRequest(`Invalid query: ${parsed.error.issues[0]!.message}`, String(parsed.error.issues[0]!.path[0] ?? ''));
      const rows = (await ledger.list(parsed.data.peer)).map(row);
      if (parsed.data.format === 'json') return { object: 'list', data: rows };
      const columns = Object.keys(row({ channel: '', seq: 0, issuer: '', subject: '', requestId: '', model: '', cost: 0, total: 0, hash: '', iat: 0, jws: '' }));
      const lines = [columns.join(','), ...rows.map((r) => columns.map((c) => csvField((r as Record<string, string | number | boolean | null>)[c]!)).join(','))];
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="receipts.csv"').send(`${lines.join('\r\n')}\r\n`);
    });
  };
}
