/**
 * The query process: runs `POST /v1/query` SQL against the usage index on a read-only connection, in a process of
 * its own so that a query over its time limit is stopped for real (the parent kills this process; node:sqlite has
 * no progress handler or interrupt, and a worker thread cannot be terminated while SQLite runs) and so that a heavy
 * query never blocks the gateway's event loop.
 *
 * Run directly by Node (type stripping for the .ts source, or the compiled .js): it imports node built-ins only.
 * Messages: in `{ id, sql, params, maxRows, maxBytes }`; out `{ id, ok: true, columns, rows, truncated }` or
 * `{ id, ok: false, code, message }`.
 */
import { constants, DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';

interface QueryMessage {
  id: number;
  sql: string;
  params: SQLInputValue[] | Record<string, SQLInputValue>;
  maxRows: number;
  maxBytes: number;
}

type Cell = string | number | null;

const [path, tablesArg] = process.argv.slice(2);
const TABLES = new Set((tablesArg ?? '').split(','));

const db = new DatabaseSync(path!, { readOnly: true, allowExtension: false });
/** Why the authorizer refused the statement being prepared. */
let denied: string | undefined;

const ACTION_NAMES = new Map<number, string>(
  Object.entries(constants).filter(([name]) => name.startsWith('SQLITE_') && !name.startsWith('SQLITE_CHANGESET')).map(([name, code]) => [code as number, name.slice(7)]),
);

/**
 * The authorizer is the rule, whatever the SQL text looks like: a SELECT (with its sub-selects, CTEs, recursive
 * CTEs and built-in functions) reading the known tables. PRAGMA, ATTACH, writes, schema changes, transactions and
 * SQLite's own tables are refused at prepare time, and the reason is kept for the error.
 */
db.setAuthorizer((action, arg1) => {
  switch (action) {
    case constants.SQLITE_SELECT:
    case constants.SQLITE_FUNCTION:
    case constants.SQLITE_RECURSIVE:
      return constants.SQLITE_OK;
    case constants.SQLITE_READ:
      // Reads of a CTE are reported with the CTE's name; real tables other than ours are SQLite's own.
      if (arg1 !== null && arg1.toLowerCase().startsWith('sqlite_')) {
        denied = `reading ${arg1} is not allowed`;
        return constants.SQLITE_DENY;
      }
      return constants.SQLITE_OK;
    default: {
      const name = ACTION_NAMES.get(action) ?? `action ${action}`;
      denied = `${name.replaceAll('_', ' ')}${arg1 ? ` (${arg1})` : ''} is not allowed`;
      return constants.SQLITE_DENY;
    }
  }
});

function cell(value: unknown): Cell {
  if (value === null || typeof value === 'number' || typeof value === 'string') return value as Cell;
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return String(value);
}

function run(message: QueryMessage): void {
  denied = undefined;
  let statement: StatementSync;
  try {
    statement = db.prepare(message.sql);
  } catch (err) {
    const text = (err as Error).message;
    if (denied !== undefined || /not authorized/.test(text)) {
      send({ id: message.id, ok: false, code: 'sql_not_allowed', message: `${denied ?? text}: only SELECT (or WITH … SELECT) over ${[...TABLES].join(', ')}.` });
    } else {
      const unknownTable = /no such table: (\S+)/.exec(text);
      send({
        id: message.id, ok: false, code: 'invalid_sql',
        message: unknownTable ? `Unknown table ${unknownTable[1]}; the tables are ${[...TABLES].join(', ')}.` : `The SQL does not compile: ${text}.`,
      });
    }
    return;
  }
  statement.setReadBigInts(true);
  statement.setReturnArrays(true);
  const columns = statement.columns().map((c) => c.name);
  const rows: Cell[][] = [];
  let bytes = 0;
  let truncated = false;
  try {
    const params = message.params;
    const iterator = (Array.isArray(params) ? statement.iterate(...params) : statement.iterate(params)) as Iterator<unknown[]>;
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      if (rows.length === message.maxRows || bytes > message.maxBytes) {
        truncated = true;
        iterator.return?.();
        break;
      }
      const row = next.value.map(cell);
      for (const value of row) bytes += typeof value === 'string' ? value.length + 3 : 8;
      rows.push(row);
    }
  } catch (err) {
    send({ id: message.id, ok: false, code: 'invalid_sql', message: `The query failed: ${(err as Error).message}.` });
    return;
  }
  send({ id: message.id, ok: true, columns, rows, truncated });
}

function send(message: unknown): void {
  process.send!(message);
}

process.on('message', (message: QueryMessage) => run(message));
process.on('disconnect', () => process.exit(0));
send({ ready: true });
