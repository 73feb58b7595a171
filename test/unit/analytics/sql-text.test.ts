import { describe, expect, it } from 'vitest';
import { blankLiterals, checkSqlText, dollarNamedParameters } from '../../../src/analytics/index.js';

describe('checkSqlText', () => {
  it.each([
    'SELECT 1',
    'select model from records;',
    '  WITH t AS (SELECT 1) SELECT * FROM t ;  ',
    "SELECT 'a; b' AS text",
    'SELECT "odd;name" FROM records',
    'SELECT 1 -- one; two',
    'SELECT /* ; */ 1',
    "SELECT 'it''s; fine'",
  ])('accepts one query: %s', (sql) => {
    expect(checkSqlText(sql)).toEqual({ ok: true });
  });

  it.each([
    ['SELECT 1; SELECT 2', /One statement per query; this SQL has 2/],
    ["SELECT 'x'; DELETE FROM records", /One statement/],
    ['DELETE FROM records', /DELETE is not allowed/],
    ['pragma journal_mode', /PRAGMA is not allowed/],
    ["ATTACH 'x.db' AS x", /ATTACH is not allowed/],
    ['  ', /empty/],
    ['-- only a comment', /empty/],
  ])('refuses %s', (sql, reason) => {
    const verdict = checkSqlText(sql);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reason).toMatch(reason);
  });

  it('leaves a misspelt keyword to SQLite, which names the syntax error', () => {
    expect(checkSqlText('SELEC 1')).toEqual({ ok: true });
  });

  it('blanks comments, literals and quoted identifiers, keeping the rest (a DuckDB list is code)', () => {
    expect(blankLiterals("SELECT 'a;b', \"c;d\", [1, 2] /* g; */ FROM t -- h;")).toBe('SELECT \'\', "", [1, 2]   FROM t  ');
  });

  it('writes :name and @name as DuckDB\'s $name for bound names, in code only and never in a :: cast', () => {
    expect(dollarNamedParameters("SELECT :a, @b, $a, :other, ':a', x::INT -- :a", ['a', 'b'])).toBe("SELECT $a, $b, $a, :other, ':a', x::INT -- :a");
  });
});
