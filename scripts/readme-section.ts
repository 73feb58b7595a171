/**
 * A generated part of README.md: the text between a start and an end marker, rewritten by a `docs:*` script and
 * checked by a test, so the README cannot drift from the data it shows.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const README = fileURLToPath(new URL('../README.md', import.meta.url));

/** The README with `content` between the markers (which must be there, once each). */
export function withSection(readme: string, start: string, end: string, content: string): string {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from || readme.indexOf(start, from + 1) >= 0) throw new Error(`README.md needs the markers ${start} … ${end}, once each`);
  return `${readme.slice(0, from + start.length)}\n${content}\n${readme.slice(to)}`;
}

/** Rewrites README.md with `rewrite` when that changes it, saying which `what` it did. */
export function rewriteReadme(rewrite: (readme: string) => string, what: string): void {
  const before = readFileSync(README, 'utf8');
  const after = rewrite(before);
  if (after !== before) writeFileSync(README, after);
  console.log(after === before ? `README.md: ${what} already up to date` : `README.md: ${what} rewritten`);
}
