// Which build `bin/meshgate.js` runs: the start-up bundle (dist/bundle/, made by `npm run build` after tsc), else the
// compiled modules (dist/), each only when it is at least as new as every source file, otherwise the TypeScript
// sources (through tsx), so an edited checkout never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest modification time of any file under `dir`. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** What each build starts from, relative to the project root. */
export const ENTRY_FILES = { bundle: 'dist/bundle/meshgate.js', dist: 'dist/cli/main.js' };

/** 'bundle', 'dist' or 'source' for the project at `root`; MESHGATE_FROM_SOURCE=1 forces the sources. */
export function chooseEntry(root, env = process.env) {
  if (env.MESHGATE_FROM_SOURCE === '1') return 'source';
  // An installed package ships what it was built from; without src/ any build present is current.
  const sources = existsSync(join(root, 'src')) ? newest(join(root, 'src')) : 0;
  for (const kind of ['bundle', 'dist']) {
    const built = join(root, ENTRY_FILES[kind]);
    if (existsSync(built) && statSync(built).mtimeMs >= sources) return kind;
  }
  return 'source';
}
