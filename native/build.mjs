// Builds native/malloc-trim.node (see native/malloc-trim.c) at install: one call to the C compiler against Node's
// own headers (Node-API, stable across Node versions). Never fails an install: without a compiler or the headers it
// says so in one line and the node runs without it (an idle node then keeps its freed malloc pages resident).
// Plain JavaScript on purpose: it runs in `postinstall`, before the project's own tools are guaranteed to work.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'malloc-trim.c');
const output = join(root, 'native', 'malloc-trim.node');

/** Node's headers: the `node` package's (the Node 24 that `npm install` brings), the running node's, the system's. */
function headers() {
  const candidates = [
    join(root, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

function build() {
  if (process.platform !== 'linux') return 'skipped: malloc_trim is a glibc call (Linux only)';
  if (existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) return `up to date (${output})`;
  const include = headers();
  if (!include) return 'skipped: no Node headers (node_api.h) found';
  const cc = process.env.CC ?? 'cc';
  try {
    execFileSync(cc, ['-O2', '-shared', '-fPIC', '-o', output, `-I${include}`, source], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const reason = err.code === 'ENOENT' ? `no C compiler (${cc})` : String(err.stderr ?? err.message).trim().split('\n')[0];
    return `skipped: ${reason}`;
  }
  return `built ${output}`;
}

console.log(`meshgate native malloc-trim: ${build()}`);
