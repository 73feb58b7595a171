import type { StoredReceipt } from '../ledger/index.js';

/** One row of a usage table, in the column order of its DDL (./query-schema.ts) without the generated columns. */
export type Row = Array<string | number | null>;

/**
 * How `from_json` reads the records' JSON texts: the fields the tables take, as the types of their columns (a field
 * a record lacks, as records written by older builds lack `reasoning_tokens`, `cache` or `profile`, reads as NULL;
 * fields not named here, such as `client_ip`, are skipped).
 */
const ATTEMPT_JSON = { target: 'VARCHAR', ok: 'BOOLEAN', status: 'INTEGER', code: 'VARCHAR', error: 'VARCHAR', duration_ms: 'DOUBLE' };
const FINDING_JSON = { type: 'VARCHAR', location: 'VARCHAR', action: 'VARCHAR' };
const RECORD_JSON = {
  id: 'VARCHAR', time: 'BIGINT', project: 'VARCHAR', source: 'VARCHAR', principal: { kind: 'VARCHAR', id: 'VARCHAR' }, client_format: 'VARCHAR',
  operation: 'VARCHAR', requested_model: 'VARCHAR', model: 'VARCHAR', provider: 'VARCHAR', served_by: 'VARCHAR', peer: 'VARCHAR', status: 'INTEGER',
  error_type: 'VARCHAR', attempts: [ATTEMPT_JSON], failovers: 'INTEGER', prompt_tokens: 'INTEGER', completion_tokens: 'INTEGER',
  cached_tokens: 'INTEGER', cache_write_tokens: 'INTEGER', reasoning_tokens: 'INTEGER', usage_estimated: 'BOOLEAN', cost_micros: 'BIGINT',
  priced: 'BOOLEAN', latency_ms: 'DOUBLE', ttft_ms: 'DOUBLE', stream: 'BOOLEAN', client_aborted: 'BOOLEAN', findings: [FINDING_JSON],
  cache: 'VARCHAR', profile: 'VARCHAR',
};

/** A boolean field as a 0/1 column; absent counts as false. */
const flag = (field: string) => `coalesce(${field}::INTEGER, 0)`;

type Columns = ReadonlyArray<readonly [column: string, sql: string]>;

/** Each column of a record table and the SQL that gives it from a record `r`, or from its n-th attempt `a` or finding `f`. */
const RECORD_COLUMNS: Columns = [
  ['id', 'r.id'], ['time', 'r.time'], ['project', 'r.project'], ['source', 'r.source'], ['principal_kind', 'r.principal.kind'],
  ['principal_id', 'r.principal.id'], ['client_format', 'r.client_format'], ['operation', 'r.operation'], ['requested_model', 'r.requested_model'],
  ['model', 'r.model'], ['provider', 'r.provider'], ['served_by', 'r.served_by'], ['peer', 'r.peer'], ['status', 'r.status'],
  ['error_type', 'r.error_type'], ['attempts', 'coalesce(len(r.attempts), 0)'], ['failovers', 'r.failovers'], ['prompt_tokens', 'r.prompt_tokens'],
  ['completion_tokens', 'r.completion_tokens'], ['cached_tokens', 'r.cached_tokens'], ['cache_write_tokens', 'r.cache_write_tokens'],
  ['reasoning_tokens', 'coalesce(r.reasoning_tokens, 0)'], ['usage_estimated', flag('r.usage_estimated')], ['cost_micros', 'r.cost_micros'],
  ['priced', flag('r.priced')], ['latency_ms', 'r.latency_ms'], ['ttft_ms', 'r.ttft_ms'], ['stream', flag('r.stream')],
  ['client_aborted', flag('r.client_aborted')], ['findings', 'coalesce(len(r.findings), 0)'], ['cache', 'r.cache'], ['profile', 'r.profile'],
];
/** What an attempt's or a finding's row takes from its record, and its place in the record's list. */
const ITEM_KEY_COLUMNS: Columns = [['record_id', 'id'], ['time', 'time'], ['n', 'n']];
const ATTEMPT_COLUMNS: Columns = [
  ['target', 'a.target'], ['ok', flag('a.ok')], ['status', 'a.status'], ['code', 'a.code'], ['error', 'a.error'], ['duration_ms', 'a.duration_ms'],
];
const FINDING_COLUMNS: Columns = [['type', 'f.type'], ['location', 'f.location'], ['action', 'f.action']];

function insert(table: string, columns: Columns, from: string): string {
  return `INSERT INTO ${table} (${columns.map(([column]) => column).join(', ')}) SELECT ${columns.map(([, sql]) => sql).join(', ')} FROM ${from}`;
}

/**
 * The SQL that appends a batch of records, given as one JSON array text, to records, attempts and findings: DuckDB
 * parses the text itself and the rows go in set by set, where the appender took a call from JS for each value.
 * `stage` reads the array into the temporary table `batch` (a row a record, in its column `r`); `skipPresent` removes
 * from it the records the index holds already (for a batch that may repeat what a catch-up copied: a record is
 * immutable once written); the inserts copy it into the three tables, attempts and findings numbered from 1 in the
 * order the record lists them; `drop` removes it. Measured choices: `from_json` reads the VARCHAR, not `$1::JSON`
 * (that cast is a whole parse of its own); the lists are unnested in the projection (a lateral join hashes each
 * record to join its items back, about 35 µs a record); and the records present are deleted from `batch` rather than
 * filtered out while staging (a join that carries the whole record costs about 30 µs a record, the delete about 1).
 */
export const APPEND_SQL = {
  stage: `CREATE OR REPLACE TEMP TABLE batch AS SELECT unnest(from_json($1::VARCHAR, '${JSON.stringify([RECORD_JSON])}')) AS r`,
  skipPresent: 'DELETE FROM batch WHERE r.id IN (SELECT id FROM records)',
  records: insert('records', RECORD_COLUMNS, 'batch'),
  attempts: insert('attempts', [...ITEM_KEY_COLUMNS, ...ATTEMPT_COLUMNS], '(SELECT r.id AS id, r.time AS time, unnest(r.attempts) AS a, generate_subscripts(r.attempts, 1) AS n FROM batch)'),
  findings: insert('findings', [...ITEM_KEY_COLUMNS, ...FINDING_COLUMNS], '(SELECT r.id AS id, r.time AS time, unnest(r.findings) AS f, generate_subscripts(r.findings, 1) AS n FROM batch)'),
  drop: 'DROP TABLE batch',
} as const;

/**
 * The statement that deletes from `batch` the records the tables cannot take, and returns their ids: a record that
 * lacks a value a NOT NULL column needs (`required(table, column)`), itself or in one of its attempts or findings, or
 * holds it as a type the column cannot read (from_json reads that as NULL) — a required field missing, a status
 * as text, findings as the first builds wrote them (strings). Run before the inserts of a batch whose append failed,
 * so that one such record costs only itself.
 */
export function leaveOutSql(required: (table: string, column: string) => boolean): string {
  const missing = (table: string, columns: Columns) => columns.filter(([column]) => required(table, column)).map(([, sql]) => `${sql} IS NULL`);
  const anyItem = (list: string, item: string, checks: string[]) => (checks.length > 0 ? [`len(list_filter(${list}, lambda ${item}: ${checks.join(' OR ')})) > 0`] : []);
  const checks = [
    ...missing('records', RECORD_COLUMNS),
    ...anyItem('r.attempts', 'a', missing('attempts', ATTEMPT_COLUMNS)),
    ...anyItem('r.findings', 'f', missing('findings', FINDING_COLUMNS)),
  ];
  return `DELETE FROM batch WHERE ${checks.join(' OR ') || 'false'} RETURNING r.id`;
}

/** The ledger's receipts as rows of the receipts table; `self` (this node's peer id) gives each its direction. */
export function receiptRows(receipts: readonly StoredReceipt[], self: string): Row[] {
  return receipts.map((r) => [
    r.channel, r.seq, r.issuer === self ? 'served' : 'consumed', r.issuer, r.subject, r.requestId, r.model, r.iat, r.cost, r.total, r.ack ? 1 : 0, r.dispute?.reason ?? null,
  ]);
}
