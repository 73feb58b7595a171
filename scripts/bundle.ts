/**
 * The start-up bundle: `npm run build` (after tsc) bundles src/cli/main.ts and the packages it always loads into
 * dist/bundle/, which `bin/meshgate.js` runs when it is fresh. Loading ~1,900 modules one by one costs a node about
 * 40 MB of resident memory that one bundle does not (module records, per-file source strings, the loader's own
 * bookkeeping) — README "Benchmarks", idle memory.
 *
 * - Code split at every `import()`: what a node imports on demand (the mesh, Redis state, Bedrock signing) stays a
 *   separate chunk loaded only when needed, as with the unbundled build.
 * - Packages that are only ever loaded on demand and read files beside themselves (ioredis reads its package.json
 *   through `__dirname`), native addons and the DuckDB client stay ordinary `node_modules` imports.
 * - Every `import.meta.url` in a source file is replaced with the URL of that file's tsc output in dist/, so paths
 *   resolved relative to a module (package.json, the portal assets, the index process, package resolution) mean
 *   what they mean in the unbundled build, which stays beside the bundle.
 * - Pure ASCII output: one character outside Latin-1 anywhere (comments included) makes V8 hold the whole source as
 *   UTF-16, twice the memory.
 * - Whitespace and comments removed (identifiers kept, so stack traces name the functions), with source maps (.map
 *   beside each file, mapping to src/): `NODE_OPTIONS=--enable-source-maps` makes stack traces name the src files and
 *   lines. Node parses every map as its module loads (about 50 MB more), so that is not on by default.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Plugin } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
export const BUNDLE_DIR = join(ROOT, 'dist', 'bundle');

/** Loaded on demand only, and (for some) unable to run bundled: left to the module loader. */
const EXTERNAL = ['classic-level', '@duckdb/*', 'ioredis', '@smithy/*'];

/** `import.meta.url` of src/a/b.ts → the URL of dist/a/b.js, computed from the bundle's own location. */
const moduleUrls: Plugin = {
  name: 'module-urls',
  setup(builder) {
    builder.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!args.path.startsWith(SRC + sep) || !text.includes('import.meta.url')) return undefined;
      const compiled = relative(BUNDLE_DIR, join(ROOT, 'dist', relative(SRC, args.path))).split(sep).join('/').replace(/\.ts$/, '.js');
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(compiled)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

/** Escapes what esbuild leaves outside ASCII (it escapes strings and regular expressions; comments remain). */
export function asciiOnly(code: string): string {
  return code.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** esbuild's options for the bundle (tests build with them in memory: `{ ...bundleOptions(), write: false }`). */
export function bundleOptions() {
  return {
    entryPoints: { meshgate: join(SRC, 'cli', 'main.ts') },
    absWorkingDir: ROOT,
    outdir: BUNDLE_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    external: EXTERNAL,
    charset: 'ascii',
    // Comments and indentation are 40% of the source, which V8 keeps in memory whole (4.5 MB); names stay unminified.
    minifyWhitespace: true,
    sourcemap: true,
    sourcesContent: false,
    metafile: true,
    logLevel: 'warning',
    plugins: [moduleUrls],
    // Bundled CommonJS packages call `require` for Node's built-ins; ES modules have none of their own.
    banner: { js: "import { createRequire as __meshgateCreateRequire } from 'node:module';\nconst require = __meshgateCreateRequire(import.meta.url);" },
  } satisfies BuildOptions;
}

/** Builds dist/bundle/ (after tsc has built dist/); resolves the files written, relative to the project root. */
export async function bundle(): Promise<string[]> {
  await rm(BUNDLE_DIR, { recursive: true, force: true });
  const result = await build(bundleOptions());
  const outputs = Object.keys(result.metafile.outputs).filter((file) => file.endsWith('.js'));
  for (const file of outputs) {
    const path = join(ROOT, file);
    const code = await readFile(path, 'utf8');
    const ascii = asciiOnly(code);
    if (ascii !== code) await writeFile(path, ascii);
  }
  return outputs;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outputs = await bundle();
  console.log(`bundled src/cli/main.ts into ${relative(ROOT, BUNDLE_DIR)}/ (${outputs.length} files)`);
}
