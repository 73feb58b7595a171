/**
 * The README's table of error codes, generated from src/errors/codes.ts: `npm run docs:errors` rewrites the part of
 * README.md between the two markers below; test/unit/errors/codes.test.ts fails when the README and the table differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCodeSpec } from '../src/errors/index.js';

export const README = fileURLToPath(new URL('../README.md', import.meta.url));
export const START = '<!-- error-codes:start — generated from src/errors/codes.ts by `npm run docs:errors`; do not edit -->';
export const END = '<!-- error-codes:end -->';

function statusCell(spec: ErrorCodeSpec): string {
  return spec.relayed ? `${spec.status} or a relayed 4xx` : String(spec.status);
}

/** The markdown table: one row per code, in the order of the table in codes.ts. */
export function errorTable(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, spec]: [string, ErrorCodeSpec]) => `| \`${code}\` | ${statusCell(spec)} | \`${spec.type}\` | ${spec.meaning} |`);
  return ['| code | status | type | meaning |', '|------|--------|------|---------|', ...rows].join('\n');
}

/** The README with the generated table between the markers (which must be there, once each). */
export function withErrorTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start || readme.indexOf(START, start + 1) >= 0) throw new Error(`README.md needs the markers ${START} … ${END}, once each`);
  return `${readme.slice(0, start + START.length)}\n${errorTable()}\n${readme.slice(end)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const before = readFileSync(README, 'utf8');
  const after = withErrorTable(before);
  if (after !== before) writeFileSync(README, after);
  console.log(after === before ? 'README.md: error table already up to date' : 'README.md: error table rewritten');
}
