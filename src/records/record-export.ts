import { formatMicrosAsUsd } from '../core/index.js';
import type { UsageRecord } from './usage-record.js';

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  // https://github.com/ndjson/ndjson-spec (media type used by most tools that read it)
  ndjson: 'application/x-ndjson; charset=utf-8',
  // RFC 4180 §3: text/csv, with the optional header parameter
  csv: 'text/csv; charset=utf-8; header=present',
};

/** One JSON record per line (NDJSON): the full record, exactly as the records API returns it. */
export async function* recordsAsNdjson(records: AsyncIterable<UsageRecord>): AsyncGenerator<string> {
  for await (const record of records) yield `${JSON.stringify(record)}\n`;
}

type Cell = string | number | boolean | null;

/** CSV columns: a flat view of the record (attempt errors and findings joined), cost as exact dollars. */
const CSV_COLUMNS: ReadonlyArray<readonly [string, (record: UsageRecord) => Cell]> = [
  ['id', (r) => r.id],
  ['time', (r) => new Date(r.time).toISOString()],
  ['project', (r) => r.project],
  ['source', (r) => r.source],
  ['principal_kind', (r) => r.principal.kind],
  ['principal_id', (r) => r.principal.id],
  ['client_format', (r) => r.client_format],
  ['operation', (r) => r.operation],
  ['requested_model', (r) => r.requested_model],
  ['model', (r) => r.model],
  ['provider', (r) => r.provider],
  ['served_by', (r) => r.served_by],
  ['peer', (r) => r.peer],
  ['attempts', (r) => r.attempts.length],
  ['failovers', (r) => r.failovers],
  ['attempt_errors', (r) => r.attempts.filter((a) => !a.ok).map((a) => `${a.target}: ${a.error ?? a.code ?? a.status ?? 'failed'}`).join(' | ')],
  ['status', (r) => r.status],
  ['error_type', (r) => r.error_type],
  ['prompt_tokens', (r) => r.prompt_tokens],
  ['completion_tokens', (r) => r.completion_tokens],
  ['cached_tokens', (r) => r.cached_tokens],
  ['cache_write_tokens', (r) => r.cache_write_tokens],
  ['reasoning_tokens', (r) => r.reasoning_tokens],
  ['usage_estimated', (r) => r.usage_estimated],
  ['cost_usd', (r) => (r.cost_micros === null ? null : formatMicrosAsUsd(r.cost_micros))],
  ['priced', (r) => r.priced],
  ['latency_ms', (r) => r.latency_ms],
  ['ttft_ms', (r) => r.ttft_ms],
  ['stream', (r) => r.stream],
  ['findings', (r) => r.findings.map((f) => `${f.type}@${f.location}`).join(';')],
  ['client_aborted', (r) => r.client_aborted],
  // Records written before these fields existed have neither: empty cells.
  ['client_ip', (r) => r.client_ip ?? null],
  ['country', (r) => r.country ?? null],
];

/**
 * A CSV field per RFC 4180 §2. Text is always quoted (quotes doubled): a spreadsheet set to split on `;` (the list
 * separator in much of Europe) would otherwise split `p;=cmd…` inside a cell and run its second half as a formula.
 * Text that starts like a formula (= + - @ tab CR; OWASP "CSV Injection") also gets a leading apostrophe, since
 * project, source and model come from clients. Numbers and booleans are written bare; null is empty.
 */
export function csvField(value: Cell): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${text.replaceAll('"', '""')}"`;
}

/** CSV with a header line, CRLF line ends (RFC 4180 §2.1). */
export async function* recordsAsCsv(records: AsyncIterable<UsageRecord>): AsyncGenerator<string> {
  yield `${CSV_COLUMNS.map(([name]) => name).join(',')}\r\n`;
  for await (const record of records) yield `${CSV_COLUMNS.map(([, value]) => csvField(value(record))).join(',')}\r\n`;
}

export const EXPORTERS: Record<ExportFormat, (records: AsyncIterable<UsageRecord>) => AsyncGenerator<string>> = {
  ndjson: recordsAsNdjson,
  csv: recordsAsCsv,
};
