/**
 * What can be told from the SQL text before SQLite sees it: one statement, and a SELECT or WITH. The read-only
 * rule itself is enforced by the query process's authorizer on a read-only connection (./query-process.ts); this
 * check exists because SQLite's prepare silently ignores what follows the first statement, and to name the
 * problem in words a user (or a model) can act on.
 */

/** The SQL cut into code and the parts that are not code: comments, string literals and quoted identifiers. */
function segments(sql: string): Array<{ code: boolean; text: string }> {
  const parts: Array<{ code: boolean; text: string }> = [];
  let code = '';
  let i = 0;
  const other = (end: number) => {
    if (code) parts.push({ code: true, text: code });
    code = '';
    parts.push({ code: false, text: sql.slice(i, end) });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      other(end === -1 ? sql.length : end);
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      other(end === -1 ? sql.length : end + 2);
    } else if (c === "'" || c === '"') {
      // (In DuckDB, [ ] is a list, not a quoted name.)
      const close = c;
      let j = i + 1;
      // A doubled quote inside a literal is an escaped quote ('it''s').
      while (j < sql.length && !(sql[j] === close && sql[j + 1] !== close)) j += sql[j] === close ? 2 : 1;
      other(Math.min(j + 1, sql.length));
    } else {
      code += c;
      i++;
    }
  }
  if (code) parts.push({ code: true, text: code });
  return parts;
}

/** The SQL with comments, string literals and quoted identifiers blanked out, so `;` and keywords are real ones. */
export function blankLiterals(sql: string): string {
  return segments(sql).map((part) => (part.code ? part.text : part.text.startsWith("'") ? "''" : part.text.startsWith('"') ? '""' : ' ')).join('');
}

/**
 * DuckDB names parameters `$name`; `:name` and `@name` (as SQLite also wrote them) become `$name` for the names
 * bound, in code only (never inside a literal or comment, and never the `::` of a cast).
 */
export function dollarNamedParameters(sql: string, names: readonly string[]): string {
  if (names.length === 0) return sql;
  const bound = new Set(names);
  return segments(sql).map((part) => (part.code
    ? part.text.replace(/(?<![:@$\w])[:@]([A-Za-z_][A-Za-z0-9_]*)/g, (whole, name: string) => (bound.has(name) ? `$${name}` : whole))
    : part.text)).join('');
}

export type SqlTextVerdict = { ok: true } | { ok: false; reason: string };

/** Keywords that start an SQLite statement other than a query. Other words are left to SQLite's syntax error. */
const OTHER_STATEMENTS = new Set([
  'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'UPSERT', 'CREATE', 'DROP', 'ALTER', 'PRAGMA', 'ATTACH', 'DETACH', 'BEGIN', 'COMMIT',
  'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'VACUUM', 'ANALYZE', 'REINDEX', 'EXPLAIN', 'VALUES',
]);

/** One statement, and not one of SQLite's other kinds than SELECT / WITH. */
export function checkSqlText(sql: string): SqlTextVerdict {
  const blanked = blankLiterals(sql);
  const statements = blanked.split(';').filter((part) => part.trim() !== '');
  if (statements.length === 0) return { ok: false, reason: 'The SQL is empty.' };
  if (statements.length > 1) return { ok: false, reason: `One statement per query; this SQL has ${statements.length}.` };
  const keyword = /^\s*([A-Za-z]+)/.exec(statements[0]!)?.[1]?.toUpperCase();
  if (keyword !== undefined && OTHER_STATEMENTS.has(keyword)) return { ok: false, reason: `${keyword ?? 'This statement'} is not allowed: only SELECT (or WITH … SELECT) reads the usage tables.` };
  return { ok: true };
}
