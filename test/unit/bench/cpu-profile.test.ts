import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSourceMaps, summarise, type Profile } from '../../../bench/cpu-profile.js';

/**
 * bench/cpu-profile.ts on the profile of a real process that runs a tiny bundle built as scripts/bundle.ts builds the
 * start-up bundle (whitespace removed, a .map beside it without the sources' text): its frames must name the source
 * file and line of each function, not the bundle's.
 */
describe('the CPU profile summary of a bundled process', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-cpu-profile-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'src'));
  // Line 4 (1-based) of src/hot.ts declares the function the samples land in.
  await writeFile(join(dir, 'src', 'hot.ts'), [
    '// A function that burns CPU until the process has used `ms` of it (bounded: it stops by itself).',
    'export let sink = 0;',
    '',
    'export function spinForCpu(ms: number): void {',
    '  const start = process.cpuUsage();',
    '  for (;;) {',
    '    for (let i = 0; i < 10_000; i++) sink = (sink + i * 7) % 1_000_003;',
    '    const used = process.cpuUsage(start);',
    '    if (used.user + used.system >= ms * 1000) return;',
    '  }',
    '}',
  ].join('\n'));
  await writeFile(join(dir, 'src', 'main.ts'), "import { spinForCpu } from './hot.js';\n\nconst label: string = 'spin';\nconsole.log(label);\nspinForCpu(80);\n");
  const bundleDir = join(dir, 'dist', 'bundle');
  await build({
    entryPoints: { main: join(dir, 'src', 'main.ts') }, absWorkingDir: dir, outdir: bundleDir, bundle: true, format: 'esm', platform: 'node',
    minifyWhitespace: true, sourcemap: true, sourcesContent: false, logLevel: 'silent',
  });
  const profileDir = join(dir, 'profile');
  await promisify(execFile)(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=250', join(bundleDir, 'main.js')], { timeout: 60_000 });
  const [file] = await readdir(profileDir);
  const profile = JSON.parse(await readFile(join(profileDir, file!), 'utf8')) as Profile;

  it('without the source maps names the bundle', () => {
    const lines = summarise(profile);
    expect(lines.some((line) => /spinForCpu dist\/bundle\/main\.js:1$/.test(line))).toBe(true);
    expect(lines.some((line) => line.includes('src/hot.ts'))).toBe(false);
  });

  it('through the source maps names the source file, function and line', async () => {
    const lines = summarise(await resolveSourceMaps(profile));
    const byModule = lines.slice(lines.indexOf('by module (self time):') + 1, lines.indexOf('by function (self time):'));
    expect(byModule.some((line) => line.endsWith('  src/hot.ts'))).toBe(true);
    expect(lines.some((line) => line.includes('dist/bundle/main.js'))).toBe(false);
    const inclusive = lines.slice(lines.indexOf('our functions, inclusive (self + callees):') + 1);
    expect(inclusive.some((line) => line.endsWith('spinForCpu src/hot.ts:4'))).toBe(true);
  });

  it('leaves frames of scripts without a source map as they were', async () => {
    const unmapped = { ...profile, nodes: profile.nodes.map((node) => ({ ...node, callFrame: { ...node.callFrame, url: node.callFrame.url ? 'node:internal/x' : '' } })) };
    expect(await resolveSourceMaps(unmapped)).toEqual(unmapped);
  });
});
