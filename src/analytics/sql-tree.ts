/**
 * The "known tables only" rule of `POST /v1/query`, read from DuckDB's own parse tree of the statement
 * (`json_serialize_sql`, which serialises SELECT statements only): every table a query reads — in FROM, joins,
 * sub-selects, CTEs and expressions — must be one of the usage tables or a CTE the query defines, and the only
 * table functions are the row generators below. DuckDB's catalog views (`sqlite_master`, `information_schema.*`,
 * `duckdb_*()`), `query()` / `query_table()` and the file readers are refused whatever the text looks like.
 *
 * Imports nothing: the index process (./index-process.ts) loads it by file name under Node's type stripping.
 */

export type TreeVerdict = { ok: true } | { ok: false; code: 'sql_not_allowed' | 'invalid_sql'; reason: string };

/** Table functions that only generate rows from their arguments. */
const ROW_GENERATORS = new Set(['range', 'generate_series', 'unnest']);
/** Table reference kinds that read nothing by themselves (their children are walked). */
const PLAIN_REFS = new Set(['JOIN', 'SUBQUERY', 'EMPTY', 'EXPRESSION_LIST', 'PIVOT']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * `tree`: the parsed output of `json_serialize_sql(sql)`; `tables`: the usage tables. A name that is neither ours nor
 * a catalog's is reported as unknown (invalid_sql), so the caller can name the tables there are.
 */
export function checkSelectTree(tree: Json, tables: readonly string[]): TreeVerdict {
  const known = new Set(tables.map((t) => t.toLowerCase()));
  const ctes = new Set<string>();
  collectCteNames(tree, ctes);
  const verdict = walk(tree, known, ctes);
  return verdict ?? { ok: true };
}

function collectCteNames(node: Json, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectCteNames(item, into);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const map = (node.cte_map as { map?: Array<{ key?: unknown }> } | undefined)?.map;
  if (Array.isArray(map)) for (const entry of map) if (typeof entry.key === 'string') into.add(entry.key.toLowerCase());
  for (const value of Object.values(node)) collectCteNames(value, into);
}

/**
 * A table reference: a node with a `type`, an `alias` and a `sample` (as DuckDB's TableRef serialises) that is
 * neither an expression (`class`) nor a query node (`modifiers`); type infos have an alias but no sample.
 */
function isTableRef(node: { [key: string]: Json }): boolean {
  return typeof node.type === 'string' && 'alias' in node && 'sample' in node && !('class' in node) && !('modifiers' in node);
}

function walk(node: Json, known: Set<string>, ctes: Set<string>): TreeVerdict | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const verdict = walk(item, known, ctes);
      if (verdict) return verdict;
    }
    return undefined;
  }
  if (node === null || typeof node !== 'object') return undefined;
  if (isTableRef(node)) {
    const verdict = checkTableRef(node, known, ctes);
    if (verdict) return verdict;
  }
  for (const value of Object.values(node)) {
    const verdict = walk(value, known, ctes);
    if (verdict) return verdict;
  }
  return undefined;
}

function checkTableRef(ref: { [key: string]: Json }, known: Set<string>, ctes: Set<string>): TreeVerdict | undefined {
  const type = ref.type as string;
  if (type === 'BASE_TABLE') {
    const name = String(ref.table_name ?? '');
    const qualifier = [ref.catalog_name, ref.schema_name].filter((part) => typeof part === 'string' && part !== '').join('.');
    const shown = qualifier ? `${qualifier}.${name}` : name;
    const lower = name.toLowerCase();
    if (qualifier === '' && ctes.has(lower)) return undefined;
    if (qualifier === '' || qualifier.toLowerCase() === 'main') {
      if (known.has(lower)) return undefined;
      if (isCatalogName(lower)) return { ok: false, code: 'sql_not_allowed', reason: `reading ${shown} is not allowed` };
      // DuckDB reads a quoted path in FROM as a file (external access is off, so it could not anyway).
      if (!/^[a-z_][a-z0-9_]*$/.test(lower)) return { ok: false, code: 'sql_not_allowed', reason: `reading the file ${shown} is not allowed` };
      return { ok: false, code: 'invalid_sql', reason: `Unknown table ${shown}` };
    }
    return { ok: false, code: 'sql_not_allowed', reason: `reading ${shown} is not allowed` };
  }
  if (type === 'TABLE_FUNCTION') {
    const fn = (ref.function as { function_name?: unknown } | null)?.function_name;
    const name = typeof fn === 'string' ? fn.toLowerCase() : '';
    if (ROW_GENERATORS.has(name)) return undefined;
    return { ok: false, code: 'sql_not_allowed', reason: `the table function ${name || '(unnamed)'}() is not allowed` };
  }
  if (PLAIN_REFS.has(type)) return undefined;
  return { ok: false, code: 'sql_not_allowed', reason: `${type.toLowerCase().replaceAll('_', ' ')} is not allowed` };
}

/** DuckDB's catalog views and tables (and SQLite's names, which DuckDB answers for compatibility). */
function isCatalogName(name: string): boolean {
  return name.startsWith('sqlite_') || name.startsWith('duckdb_') || name.startsWith('pragma_') || name.startsWith('pg_') || name === 'information_schema';
}
