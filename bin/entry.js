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

/**
 * V8's young generation for a serving node, in MB per semi-space. V8 grows it up to 32 MB per semi-space (64 MB of
 * new space, resident once touched) as soon as start-up allocates quickly. Measured side by side (bench/semi-space.ts),
 * 16 MB saved 5–21% of CPU per request against 4 MB under the 32-connection load (fewer scavenges, and fewer of a
 * request's objects promoted), 8 MB nothing, 1 MB cost 57% more. The cap was 4 while a node that idled kept its young
 * generation; since a node quiet for `server.idle_heap_reclaim_seconds` collects its heap, which shrinks the young
 * generation to 1 MB, 16 costs memory only under load and in the first minute of quiet (102 against 103 MB idle after
 * it). README "Benchmarks", idle memory.
 */
export const SEMI_SPACE_MB = 16;

/**
 * glibc malloc arenas for a serving node. glibc gives each thread that allocates its own arena (up to 8 per core);
 * libuv's pool, V8's platform threads and LevelDB's each keep pages of their own, resident after a burst of load. Two
 * arenas measured 7 MB less idle after warm-up and 16 MB less after the 32-connection load, CPU per request within
 * the noise. Ignored by other C libraries (musl).
 */
export const MALLOC_ARENAS = '2';

/**
 * glibc's trim threshold for a serving node, in bytes: free memory at the top of a malloc heap above it goes back to
 * the OS. By default glibc raises it (to twice the largest block it served by mmap, up to 64 MB) as soon as a large
 * buffer is freed, so the pages a burst of requests used stay resident at idle. A fixed 1 MB (which also keeps
 * blocks of 128 KB or more on their own mmap) measured native memory idle after the warm-up 10 MB instead of 21 and
 * idle RSS 118 MB instead of 129, CPU per request at 32 connections within the noise (−2% and +4% in two runs); a
 * 128 KB threshold with no top pad cost 2–9% more CPU. README "Benchmarks", idle memory.
 */
export const MALLOC_TRIM_THRESHOLD = '1048576';

/**
 * V8's `gc()` for a serving node's idle heap collection (src/gateway/idle-memory.ts), given as `--expose-gc` at start
 * and marked as the node's own by MESHGATE_EXPOSED_GC, so the node takes it off the global as it loads and no other
 * code sees it. A flag set at run time instead (`v8.setFlagsFromString`, as the collection did before) cost the load
 * after it about 50% more CPU per request for a minute (README "Benchmarks", idle memory).
 */
export const EXPOSE_GC = '--expose-gc';
export const EXPOSED_GC_ENV = 'MESHGATE_EXPOSED_GC';

/**
 * What `meshgate start` re-executes itself with (same process, through `process.execve`) so that V8 and malloc start
 * with the memory settings above: `{ execArgv, env }`, or null when nothing is missing — another command, or each
 * setting already given (by the user: `--max-semi-space-size` or `--expose-gc` on the command line or in NODE_OPTIONS,
 * a MALLOC_ARENA_MAX or MALLOC_TRIM_THRESHOLD_ of their own; or by the re-execution itself).
 */
export function memoryExec(argv, execArgv, env = process.env) {
  if (argv[0] !== 'start') return null;
  const given = (flag) => execArgv.some((arg) => arg === flag || arg.startsWith(`${flag}=`)) || (env.NODE_OPTIONS ?? '').split(/\s+/).some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  const flag = '--max-semi-space-size';
  const semiSpace = given(flag);
  const exposedGc = given(EXPOSE_GC); // the user's own (then left on the global), or the re-execution's
  const settings = { MALLOC_ARENA_MAX: MALLOC_ARENAS, MALLOC_TRIM_THRESHOLD_: MALLOC_TRIM_THRESHOLD, ...(exposedGc ? {} : { [EXPOSED_GC_ENV]: '1' }) };
  const missing = Object.entries(settings).filter(([name]) => env[name] === undefined);
  if (semiSpace && exposedGc && missing.length === 0) return null;
  return {
    execArgv: [...(semiSpace ? [] : [`${flag}=${SEMI_SPACE_MB}`]), ...(exposedGc ? [] : [EXPOSE_GC]), ...execArgv],
    env: missing.length === 0 ? env : { ...env, ...Object.fromEntries(missing) },
  };
}
