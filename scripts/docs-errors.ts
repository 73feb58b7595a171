/**
 * The README's table of error codes, generated from src/errors/codes.ts: `npm run docs:errors` rewrites the part of
 * README.md between the two markers below; test/unit/errors/codes.test.ts fails when the README and the table differ.
 */
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCodeSpec } from '../src/errors/index.js';
import { rewriteReadme, withSection } from './readme-section.js';

export { README } from './readme-section.js';
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
export const withErrorTable = (readme: string): string => withSection(readme, START, END, errorTable());

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) rewriteReadme(withErrorTable, 'error table');
