import type { StoredReceipt } from '../ledger/index.js';
import type { UsageRecord } from '../records/index.js';

/** One row of a usage table, in the column order of its DDL (./query-schema.ts) without the generated columns. */
export type Row = Array<string | number | null>;

/** The rows one batch of records adds to the three record tables. */
export interface RecordRows {
  records: Row[];
  attempts: Row[];
  findings: Row[];
}

const flag = (value: boolean) => (value ? 1 : 0);

/** Records as the rows of records, attempts and findings (what the index process appends). */
export function recordRows(records: readonly UsageRecord[]): RecordRows {
  const rows: RecordRows = { records: [], attempts: [], findings: [] };
  for (const r of records) {
    rows.records.push([
      r.id, r.time, r.project, r.source, r.principal.kind, r.principal.id, r.client_format, r.operation, r.requested_model, r.model, r.provider,
      r.served_by, r.peer, r.status, r.error_type, r.attempts.length, r.failovers, r.prompt_tokens, r.completion_tokens, r.cached_tokens,
      r.cache_write_tokens, r.reasoning_tokens ?? 0, flag(r.usage_estimated), r.cost_micros, flag(r.priced), r.latency_ms, r.ttft_ms, flag(r.stream),
      flag(r.client_aborted), r.findings.length, r.cache ?? null, r.profile ?? null,
    ]);
    r.attempts.forEach((a, i) => rows.attempts.push([r.id, r.time, i + 1, a.target, flag(a.ok), a.status ?? null, a.code ?? null, a.error ?? null, a.duration_ms]));
    r.findings.forEach((f, i) => rows.findings.push([r.id, r.time, i + 1, f.type, f.location, f.action]));
  }
  return rows;
}

/** The ledger's receipts as rows of the receipts table; `self` (this node's peer id) gives each its direction. */
export function receiptRows(receipts: readonly StoredReceipt[], self: string): Row[] {
  return receipts.map((r) => [
    r.channel, r.seq, r.issuer === self ? 'served' : 'consumed', r.issuer, r.subject, r.requestId, r.model, r.iat, r.cost, r.total, r.ack ? 1 : 0, r.dispute?.reason ?? null,
  ]);
}
