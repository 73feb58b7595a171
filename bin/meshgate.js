#!/usr/bin/env node
// meshgate command-line entry. Runs the compiled build (made by `npm install` through the `prepare` script) when it
// is fresh — its start-up bundle (dist/bundle/), else the compiled modules (dist/) — else the TypeScript sources
// through tsx (see entry.js). The build starts faster and uses less memory and CPU per request; the bundle saves
// the module loader's per-file cost on top; the sources keep a fresh clone or an edited checkout working.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 3)) {
  console.error(
    `meshgate needs Node.js 22.3 or newer (this is ${process.version}).\n` +
      'In a clone of the repository, `npm install` puts Node 24 in node_modules/.bin, which `npx meshgate` and `npm start` use.',
  );
  process.exit(1);
}

const { chooseEntry, memoryExec } = await import('./entry.js');
// A serving node starts again at once with V8's young generation capped and fewer malloc arenas (see entry.js);
// where Node has no execve (before 22.15, Windows) it runs with the defaults.
const exec = memoryExec(process.argv.slice(2), process.execArgv);
if (exec && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...exec.execArgv, ...process.argv.slice(1)], exec.env);
}
const entry = chooseEntry(join(dirname(fileURLToPath(import.meta.url)), '..'));
let main;
if (entry === 'bundle') {
  ({ main } = await import('../dist/bundle/meshgate.js'));
} else if (entry === 'dist') {
  ({ main } = await import('../dist/cli/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
