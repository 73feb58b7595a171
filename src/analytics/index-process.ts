/**
 * The index process: owns the usage index, a DuckDB file (columnar, so a group-by over 1M records reads a few
 * columns of compressed vectors instead of sorting rows), appends the records the gateway sends in batches, and runs
 * `POST /v1/query` SQL over it. It is a process of its own so that callers' SQL never runs where the provider keys
 * are (it starts with an empty environment), a heavy query never takes the gateway's threads, and a crash inside
 * DuckDB costs only this process: the file survives it and the gateway's catch-up fills in what is missing.
 *
 * The read-only rule, in DuckDB's terms: external access is off (no file readers, ATTACH, COPY, INSTALL or LOAD of
 * files) and the configuration locked before any caller's SQL runs; a statement is one SELECT by DuckDB's own parser
 * and its prepared statement type, and reads only the usage tables (./sql-tree.ts, over `json_serialize_sql`). A
 * query over its time limit is interrupted (`duckdb_interrupt`); the gateway kills the process only if that fails.
 *
 * Run directly by Node (type stripping for the .ts source, or the compiled .js). Argv: file, memory limit (MB),
 * threads. Messages in: `{ id, op, ... }` (see `Request`; an append carries the records as one JSON array text, as
 * the gateway stored them); out: `{ id, ok: true, ... }` or `{ id, ok: false, code, message }`, and
 * `{ ready: true, records }` once the file is open.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DuckDBBlobValue, DuckDBDecimalValue, DuckDBInstance, DuckDBTypeId, StatementType, type DuckDBAppender, type DuckDBType, type DuckDBValue,
} from '@duckdb/node-api';

type Cell = string | number | null;
type Row = Cell[];
type Params = Cell[] | Record<string, Cell>;

type Request =
  | { id: number; op: 'append'; records: string; dedupe: boolean }
  | { id: number; op: 'receipts'; rows: Row[] }
  | { id: number; op: 'sweep'; cutoff: number }
  | { id: number; op: 'keys'; keys: string[] }
  | { id: number; op: 'diff' }
  | { id: number; op: 'query'; sql: string; params: Params; maxRows: number; maxBytes: number; timeoutMs: number };

type Failure = { code: 'invalid_sql' | 'sql_not_allowed' | 'query_timeout' | 'index_failed'; message: string };

const ext = extname(fileURLToPath(import.meta.url));
const { checkSelectTree } = (await import(new URL(`./sql-tree${ext}`, import.meta.url).href)) as typeof import('./sql-tree.js');
const { SCHEMA_SQL, QUERY_TABLES } = (await import(new URL(`./query-schema${ext}`, import.meta.url).href)) as typeof import('./query-schema.js');
const { APPEND_SQL, leaveOutSql } = (await import(new URL(`./record-rows${ext}`, import.meta.url).href)) as typeof import('./record-rows.js');

const [path, memoryMb, threads] = process.argv.slice(2);
const TABLES = [...QUERY_TABLES];
const instance = await DuckDBInstance.create(path!, {
  memory_limit: `${Number(memoryMb) || 256}MB`,
  threads: String(Number(threads) || 1),
  enable_external_access: 'false',
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
});
/** `writer` appends, sweeps and catches up; `reader` checks and runs callers' SQL (interruptible on its own). */
const writer = await instance.connect();
const reader = await instance.connect();
const existing = await writer.runAndReadAll("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'records'");
if (Number(existing.getRows()[0]![0]) === 0) await writer.run(SCHEMA_SQL);
await writer.run('SET lock_configuration = true');
/** The file's own NOT NULL columns say which records a batch whose append failed leaves out (./record-rows.ts). */
const notNull = await writer.runAndReadAll("SELECT table_name || '.' || column_name FROM duckdb_columns() WHERE schema_name = 'main' AND NOT is_nullable");
const requiredColumns = new Set(notNull.getRows().map((row) => String(row[0])));
const LEAVE_OUT_SQL = leaveOutSql((table, column) => requiredColumns.has(`${table}.${column}`));

/** Writes run one at a time, in the order they came; a query waits for the writes sent before it. */
let writes: Promise<unknown> = Promise.resolve();
let reads: Promise<unknown> = Promise.resolve();

/**
 * A reply to the gateway. Once it has disconnected (it is closing) there is no one to answer, and `process.send`
 * would emit an 'error' that kills this process before the writes still queued are done and the file is closed.
 */
function send(message: unknown): void {
  if (process.connected) process.send!(message);
}

function fail(id: number, failure: Failure): void {
  send({ id, ok: false, ...failure });
}

async function count(table: string): Promise<number> {
  return Number((await writer.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0]![0]);
}

type Append = (appender: DuckDBAppender, value: string | number) => void;

/** How a value goes into a column of `type` (the usage tables have these four kinds of column). */
function appendFor(type: DuckDBType): Append {
  switch (type.typeId) {
    case DuckDBTypeId.BIGINT:
      return (appender, value) => appender.appendBigInt(BigInt(Math.trunc(Number(value))));
    case DuckDBTypeId.INTEGER:
      return (appender, value) => appender.appendInteger(Number(value));
    case DuckDBTypeId.DOUBLE:
      return (appender, value) => appender.appendDouble(Number(value));
    default:
      return (appender, value) => appender.appendVarchar(String(value));
  }
}

/** Appends rows value by value (measured faster than building data chunks from JS arrays). */
async function appendRows(table: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const appender = await writer.createAppender(table);
  try {
    const appends = Array.from({ length: appender.columnCount }, (_, i) => appendFor(appender.columnType(i)));
    for (const row of rows) {
      for (let column = 0; column < appends.length; column++) {
        const value = row[column] ?? null;
        if (value === null) appender.appendNull();
        else appends[column]!(appender, value);
      }
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** Half of a surrogate pair without the other (a string cut between them), code unit by code unit. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

interface Appended {
  inserted: number;
  /** The ids of the records left out: the tables cannot take them (`leaveOutSql`). */
  leftOut: Array<string | null>;
}

/**
 * Appends a batch: the records' JSON text as the gateway stored it, parsed by DuckDB (./record-rows.ts). That takes a
 * batch whole or not at all, so a batch that fails goes again (only such a batch pays for it): parsed here and
 * written again with each lone surrogate as U+FFFD, and without the records the tables cannot take. DuckDB's JSON
 * reader refuses a whole text for one escape `\ud83d` without its other half, which JSON.stringify writes for a
 * string with one: a client's model name, or an upstream message an earlier build cut inside an emoji (the gateway's
 * cuts keep pairs whole now, core/cut-text.ts); the appender before stored U+FFFD.
 */
async function append(request: Extract<Request, { op: 'append' }>): Promise<Appended> {
  try {
    return await appendText(request.records, request.dedupe, false);
  } catch (err) {
    let wellFormed: string;
    try {
      wellFormed = JSON.stringify(JSON.parse(request.records, (_key, value: unknown) => (typeof value === 'string' ? value.replace(LONE_SURROGATE, '\ufffd') : value)));
    } catch {
      throw err;
    }
    return appendText(wellFormed, request.dedupe, true);
  }
}

/** One batch's JSON array text into records, attempts and findings, in one transaction. */
async function appendText(records: string, dedupe: boolean, leaveOut: boolean): Promise<Appended> {
  await writer.run('BEGIN TRANSACTION');
  try {
    await writer.run(APPEND_SQL.stage, [records]);
    // A dedupe batch skips the records the catch-up already copied.
    if (dedupe) await writer.run(APPEND_SQL.skipPresent);
    const leftOut = leaveOut ? (await writer.runAndReadAll(LEAVE_OUT_SQL)).getRows().map((row) => (row[0] === null ? null : String(row[0]))) : [];
    const inserted = (await writer.run(APPEND_SQL.records)).rowsChanged;
    await writer.run(APPEND_SQL.attempts);
    await writer.run(APPEND_SQL.findings);
    await writer.run(APPEND_SQL.drop);
    await writer.run('COMMIT');
    return { inserted, leftOut };
  } catch (err) {
    await writer.run('ROLLBACK');
    throw err;
  }
}

async function sweep(cutoff: number): Promise<number> {
  await writer.run('BEGIN TRANSACTION');
  try {
    await writer.run('DELETE FROM attempts WHERE time < $1', [BigInt(Math.trunc(cutoff))]);
    await writer.run('DELETE FROM findings WHERE time < $1', [BigInt(Math.trunc(cutoff))]);
    const removed = await writer.run('DELETE FROM records WHERE time < $1', [BigInt(Math.trunc(cutoff))]);
    await writer.run('COMMIT');
    return removed.rowsChanged;
  } catch (err) {
    await writer.run('ROLLBACK');
    throw err;
  }
}

async function replaceReceipts(rows: Row[]): Promise<void> {
  await writer.run('BEGIN TRANSACTION');
  try {
    await writer.run('DELETE FROM receipts');
    await appendRows('receipts', rows);
    await writer.run('COMMIT');
  } catch (err) {
    await writer.run('ROLLBACK');
    throw err;
  }
}

/** Catch-up, step 1: the record keys LevelDB holds (`<time>!<id>`), in any number of messages. */
async function addKeys(keys: string[]): Promise<void> {
  await writer.run('CREATE TEMP TABLE IF NOT EXISTS level_keys (key VARCHAR)');
  await appendRows('level_keys', keys.map((key) => [key]));
}

/**
 * Catch-up, step 2: removes what LevelDB no longer has (swept, or never written), and answers the keys of the
 * records the index lacks, which the gateway then sends.
 */
async function diff(): Promise<{ missing: string[]; removed: number; records: number }> {
  await writer.run('CREATE TEMP TABLE IF NOT EXISTS level_keys (key VARCHAR)');
  await writer.run("CREATE TEMP TABLE level_ids AS SELECT key, substr(key, strpos(key, '!') + 1) AS id FROM level_keys");
  try {
    const missing = await writer.runAndReadAll('SELECT key FROM level_ids WHERE id NOT IN (SELECT id FROM records) ORDER BY key');
    await writer.run('BEGIN TRANSACTION');
    let removed = 0;
    try {
      await writer.run('DELETE FROM attempts WHERE record_id NOT IN (SELECT id FROM level_ids)');
      await writer.run('DELETE FROM findings WHERE record_id NOT IN (SELECT id FROM level_ids)');
      removed = (await writer.run('DELETE FROM records WHERE id NOT IN (SELECT id FROM level_ids)')).rowsChanged;
      await writer.run('COMMIT');
    } catch (err) {
      await writer.run('ROLLBACK');
      throw err;
    }
    return { missing: missing.getRows().map((row) => String(row[0])), removed, records: await count('records') };
  } finally {
    await writer.run('DROP TABLE IF EXISTS level_ids');
    await writer.run('DROP TABLE IF EXISTS level_keys');
  }
}

const STATEMENT_NAMES = new Map<number, string>(Object.entries(StatementType).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));
const ONLY = `only SELECT (or WITH … SELECT) over ${TABLES.join(', ')}.`;

function compileError(text: string): Failure {
  const first = text.split('\n')[0]!.replace(/^Failed to extract statements: /, '');
  const unknownTable = /Table with name (\S+) does not exist/.exec(first);
  if (unknownTable) return { code: 'invalid_sql', message: `Unknown table ${unknownTable[1]}; the tables are ${TABLES.join(', ')}.` };
  if (/Permission Error|disabled by configuration|configuration has been locked/.test(first)) return { code: 'sql_not_allowed', message: `${first}: ${ONLY}` };
  return { code: 'invalid_sql', message: `The SQL does not compile: ${first}.` };
}

/** The checks before a caller's SQL runs: one statement, a SELECT by DuckDB's parser, reading known tables only. */
async function admit(sql: string): Promise<Failure | undefined> {
  let statements;
  try {
    statements = await reader.extractStatements(sql);
  } catch (err) {
    return compileError((err as Error).message);
  }
  if (statements.count !== 1) return { code: 'sql_not_allowed', message: `One statement per query; this SQL has ${statements.count}.` };
  const serialized = (await reader.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql])).getRows()[0]![0];
  const tree = JSON.parse(String(serialized)) as { error?: boolean; error_message?: string };
  if (tree.error) {
    // Not a SELECT: name what it is, from the statement DuckDB would prepare.
    try {
      const prepared = await statements.prepare(0);
      const type = prepared.statementType;
      prepared.destroySync();
      const name = type === StatementType.SELECT ? 'This statement' : (STATEMENT_NAMES.get(type) ?? 'This statement').replaceAll('_', ' ');
      return { code: 'sql_not_allowed', message: `${name} is not allowed: ${ONLY}` };
    } catch (err) {
      return compileError((err as Error).message);
    }
  }
  const verdict = checkSelectTree(tree as never, TABLES);
  if (!verdict.ok) {
    return verdict.code === 'invalid_sql'
      ? { code: 'invalid_sql', message: `${verdict.reason}; the tables are ${TABLES.join(', ')}.` }
      : { code: 'sql_not_allowed', message: `${verdict.reason}: ${ONLY}` };
  }
  return undefined;
}

function cell(value: DuckDBValue): Cell {
  if (value === null || typeof value === 'number' || typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof DuckDBBlobValue) return Buffer.from(value.bytes).toString('base64');
  if (value instanceof DuckDBDecimalValue) return value.toDouble();
  return String(value);
}

async function query(request: Extract<Request, { op: 'query' }>): Promise<void> {
  const refused = await admit(request.sql);
  if (refused) return fail(request.id, refused);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.interrupt();
  }, request.timeoutMs);
  try {
    const prepared = await reader.prepare(request.sql);
    try {
      if (prepared.statementType !== StatementType.SELECT) return fail(request.id, { code: 'sql_not_allowed', message: `This statement is not allowed: ${ONLY}` });
      prepared.bind(request.params as DuckDBValue[] | Record<string, DuckDBValue>);
      const result = await prepared.stream();
      const columns = result.deduplicatedColumnNames();
      const rows: Row[] = [];
      let bytes = 0;
      let truncated = false;
      outer: for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        for (const raw of chunk.getRows()) {
          if (rows.length === request.maxRows || bytes > request.maxBytes) {
            truncated = true;
            break outer;
          }
          const row = raw.map(cell);
          for (const value of row) bytes += typeof value === 'string' ? value.length + 3 : 8;
          rows.push(row);
        }
      }
      send({ id: request.id, ok: true, columns, rows, truncated });
    } finally {
      prepared.destroySync();
    }
  } catch (err) {
    const text = (err as Error).message;
    if (timedOut || /^INTERRUPT/.test(text)) return fail(request.id, { code: 'query_timeout', message: `The query ran longer than ${request.timeoutMs} ms and was stopped; narrow it (a time range, fewer joins).` });
    const failure = compileError(text);
    fail(request.id, failure.message.startsWith('The SQL does not compile') && !/Parser Error|Binder Error|Catalog Error/.test(text)
      ? { code: 'invalid_sql', message: `The query failed: ${text.split('\n')[0]}.` }
      : failure);
  } finally {
    clearTimeout(timer);
  }
}

async function write(request: Exclude<Request, { op: 'query' }>): Promise<void> {
  try {
    switch (request.op) {
      case 'append':
        return send({ id: request.id, ok: true, ...(await append(request)) });
      case 'receipts':
        await replaceReceipts(request.rows);
        return send({ id: request.id, ok: true });
      case 'sweep':
        return send({ id: request.id, ok: true, removed: await sweep(request.cutoff) });
      case 'keys':
        await addKeys(request.keys);
        return send({ id: request.id, ok: true });
      case 'diff':
        return send({ id: request.id, ok: true, ...(await diff()) });
    }
  } catch (err) {
    fail(request.id, { code: 'index_failed', message: (err as Error).message.split('\n')[0]! });
  }
}

process.on('message', (request: Request) => {
  if (request.op === 'query') {
    const before = writes;
    reads = reads.then(() => before).then(() => query(request)).catch(() => undefined);
  } else {
    writes = writes.then(() => write(request)).catch(() => undefined);
  }
});
/** Disconnected (the gateway closes): the writes sent before are finished, then the file is closed. */
function shutDown(): void {
  reader.interrupt();
  void writes.then(() => {
    instance.closeSync();
    process.exit(0);
  });
}
process.on('disconnect', shutDown);
// The gateway may have gone while DuckDB opened the file.
if (!process.connected) shutDown();
else send({ ready: true, records: await count('records') });
