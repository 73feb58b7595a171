import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { asciiOnly, bundleOptions } from '../../../scripts/bundle.js';

/**
 * The start-up bundle (`npm run build` → dist/bundle/, what `bin/meshgate.js` runs): built in memory with the build's
 * own options, it must keep what a node loads on demand out of what every node loads, resolve module-relative paths
 * as the unbundled build does, and stay ASCII (V8 holds a source with one wider character as UTF-16).
 */
describe('the start-up bundle', async () => {
  const result = await build({ ...bundleOptions(), write: false });
  const entry = Object.values(result.metafile.outputs).find((output) => output.entryPoint === 'src/cli/main.ts')!;
  const inputsOf = (output: typeof entry) => Object.keys(output.inputs);

  it('loads the mesh only through import(): libp2p is in a chunk the entry does not import statically', () => {
    expect(inputsOf(entry).some((input) => input.startsWith('src/cli/'))).toBe(true);
    const staticChunks = entry.imports.filter((imported) => imported.kind === 'import-statement' && imported.path.startsWith('dist/'));
    const loadedAtStart = [entry, ...staticChunks.map((imported) => result.metafile.outputs[imported.path]!)].flatMap(inputsOf);
    expect(loadedAtStart.some((input) => input.startsWith('src/mesh/libp2p-node'))).toBe(false);
    expect(loadedAtStart.some((input) => input.includes('node_modules/libp2p/'))).toBe(false);
    expect(Object.values(result.metafile.outputs).some((output) => inputsOf(output).some((input) => input.includes('node_modules/libp2p/')))).toBe(true);
  });

  it('leaves native addons and the packages only some nodes load to the module loader', () => {
    const external = new Set(Object.values(result.metafile.outputs).flatMap((output) => output.imports.filter((imported) => imported.external).map((imported) => imported.path)));
    for (const name of ['ioredis', 'classic-level', '@smithy/signature-v4']) expect(external).toContain(name);
    const bundled = Object.values(result.metafile.outputs).flatMap(inputsOf);
    expect(bundled.some((input) => /node_modules\/(ioredis|classic-level|@duckdb|@smithy)\//.test(input))).toBe(false);
  });

  it("points each source file's import.meta.url at its compiled module in dist/", () => {
    const code = result.outputFiles.filter((file) => file.path.endsWith('.js')).map((file) => file.text).join('\n');
    // src/version.ts reads ../package.json relative to itself; from dist/bundle/ that module is ../version.js.
    expect(code).toMatch(/new URL\(path,\s*new URL\("\.\.\/version\.js",\s*import\.meta\.url\)\.href\)/);
    expect(code).toMatch(/new URL\("\.\.\/analytics\/usage-index\.js",\s*import\.meta\.url\)\.href/);
    // No other use: the banner's `require` is the one place that means the bundle's own location.
    const uses = [...code.matchAll(/.{0,40}import\.meta\.url/g)].map((match) => match[0]);
    expect(uses.filter((use) => !/new URL\("\.\.\/[\w/-]+\.js",\s*import\.meta\.url$/.test(use) && !use.endsWith('__meshgateCreateRequire(import.meta.url'))).toEqual([]);
  });

  it('is ASCII once written (comments included)', () => {
    for (const file of result.outputFiles.filter((output) => output.path.endsWith('.js'))) {
      expect(asciiOnly(file.text)).toMatch(/^[\x00-\x7f]*$/);
    }
    expect(asciiOnly('// a — b\nconst s = "é";')).toBe('// a \\u2014 b\nconst s = "\\u00e9";');
  });
});
