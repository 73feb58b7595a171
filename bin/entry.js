// Which build `bin/meshgate.js` runs: the compiled one (dist/) when it is at least as new as every source file,
// otherwise the TypeScript sources (through tsx), so an edited checkout never runs stale code.
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

/** 'dist' or 'source' for the project at `root`; MESHGATE_FROM_SOURCE=1 forces the sources. */
export function chooseEntry(root, env = process.env) {
  if (env.MESHGATE_FROM_SOURCE === '1') return 'source';
  const built = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(built)) return 'source';
  if (!existsSync(join(root, 'src'))) return 'dist'; // an installed package ships what it was built from
  return statSync(built).mtimeMs >= newest(join(root, 'src')) ? 'dist' : 'source';
}
