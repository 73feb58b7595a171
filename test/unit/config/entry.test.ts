import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript (bin/ runs before any TypeScript tooling is loaded)
import { chooseEntry, EXPOSE_GC, EXPOSED_GC_ENV, MALLOC_ARENAS, MALLOC_TRIM_THRESHOLD, memoryExec, SEMI_SPACE_MB } from '../../../bin/entry.js';

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

async function project(files: Record<string, number>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'meshgate-entry-'));
  roots.push(root);
  for (const [path, seconds] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), '');
    await utimes(join(root, path), seconds, seconds);
  }
  return root;
}

describe('bin/meshgate.js entry choice', () => {
  it('runs the build only when it is at least as new as every source file', async () => {
    expect(chooseEntry(await project({ 'src/a.ts': 100, 'src/deep/b.ts': 200, 'dist/cli/main.js': 300 }), {})).toBe('dist');
    expect(chooseEntry(await project({ 'src/a.ts': 100, 'src/deep/b.ts': 400, 'dist/cli/main.js': 300 }), {})).toBe('source');
    expect(chooseEntry(await project({ 'src/a.ts': 100 }), {})).toBe('source');
    expect(chooseEntry(await project({ 'dist/cli/main.js': 300 }), {})).toBe('dist');
    expect(chooseEntry(await project({ 'src/a.ts': 100, 'dist/cli/main.js': 300 }), { MESHGATE_FROM_SOURCE: '1' })).toBe('source');
  });

  it('prefers the start-up bundle when it is fresh, else the compiled modules, else the sources', async () => {
    const both = { 'dist/cli/main.js': 300, 'dist/bundle/meshgate.js': 310 };
    expect(chooseEntry(await project({ 'src/a.ts': 100, ...both }), {})).toBe('bundle');
    expect(chooseEntry(await project(both), {})).toBe('bundle');
    // tsc run again after an edit, without the bundle step: the modules are current, the bundle is not.
    expect(chooseEntry(await project({ 'src/a.ts': 320, 'dist/bundle/meshgate.js': 310, 'dist/cli/main.js': 330 }), {})).toBe('dist');
    expect(chooseEntry(await project({ 'src/a.ts': 400, ...both }), {})).toBe('source');
    expect(chooseEntry(await project({ 'src/a.ts': 100, ...both }), { MESHGATE_FROM_SOURCE: '1' })).toBe('source');
  });
});

describe('bin/meshgate.js memory settings', () => {
  const flag = `--max-semi-space-size=${SEMI_SPACE_MB}`;
  const malloc = { MALLOC_ARENA_MAX: MALLOC_ARENAS, MALLOC_TRIM_THRESHOLD_: MALLOC_TRIM_THRESHOLD };
  const ours = { ...malloc, [EXPOSED_GC_ENV]: '1' }; // gc() exposed by the re-execution, marked as the node's own

  it('re-executes `start` with the young generation capped, gc() exposed for the idle collection, fewer malloc arenas and a fixed trim threshold, keeping what it was given', () => {
    expect(memoryExec(['start', '--config', 'a.toml'], [], { PATH: '/bin' })).toEqual({ execArgv: [flag, EXPOSE_GC], env: { PATH: '/bin', ...ours } });
    expect(memoryExec(['start'], ['--cpu-prof'], {})).toEqual({ execArgv: [flag, EXPOSE_GC, '--cpu-prof'], env: ours });
  });

  it("keeps the user's own settings, and adds only what is missing", () => {
    expect(memoryExec(['start'], ['--max-semi-space-size=8'], {})).toEqual({ execArgv: [EXPOSE_GC, '--max-semi-space-size=8'], env: ours });
    expect(memoryExec(['start'], [], { MALLOC_ARENA_MAX: '8' })).toEqual({ execArgv: [flag, EXPOSE_GC], env: { ...ours, MALLOC_ARENA_MAX: '8' } });
    expect(memoryExec(['start'], [], { MALLOC_TRIM_THRESHOLD_: '0' })).toEqual({ execArgv: [flag, EXPOSE_GC], env: { ...ours, MALLOC_TRIM_THRESHOLD_: '0' } });
    // The user's own --expose-gc: not marked, so their global gc stays where they asked for it.
    expect(memoryExec(['start'], ['--expose-gc'], {})).toEqual({ execArgv: [flag, '--expose-gc'], env: malloc });
    expect(memoryExec(['start'], ['--max-semi-space-size=8', '--expose-gc'], { MALLOC_ARENA_MAX: '8' })).toEqual({ execArgv: ['--max-semi-space-size=8', '--expose-gc'], env: { ...malloc, MALLOC_ARENA_MAX: '8' } });
    expect(memoryExec(['start'], ['--max-semi-space-size=8', '--expose-gc'], { MALLOC_ARENA_MAX: '8', MALLOC_TRIM_THRESHOLD_: '0' })).toBeNull();
    expect(memoryExec(['start'], [], { NODE_OPTIONS: '--max-semi-space-size=8 --expose-gc', MALLOC_ARENA_MAX: '8', MALLOC_TRIM_THRESHOLD_: '0' })).toBeNull();
  });

  it('leaves other commands and an already re-executed process alone', () => {
    expect(memoryExec(['keys', 'create'], [], {})).toBeNull();
    expect(memoryExec([], [], {})).toBeNull();
    const again = memoryExec(['start'], [], {})!;
    expect(memoryExec(['start'], again.execArgv, again.env)).toBeNull();
  });
});
