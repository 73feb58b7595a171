import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What `meshgate start` loads before it knows its config: the static value imports reachable from the CLI entry
 * (dynamic `import()` and type-only imports are not followed). Packages only some nodes need are loaded on demand,
 * so a node that does not use them never pays their start-up memory.
 */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');
// `import x from`, `import { x } from`, `import 'x'`, `export { x } from`, `export * from` — but not `import type` / `export type`.
const STATIC = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/gm;

function staticPackages(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(STATIC)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
        if (existsSync(target)) visit(target);
      } else if (!specifier.startsWith('node:')) {
        packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
      }
    }
  };
  visit(entry);
  return packages;
}

describe('packages loaded when meshgate starts', () => {
  const packages = staticPackages(resolve(SRC, 'cli/main.ts'));

  it('follows the imports (the walk itself reaches the packages every node needs)', () => {
    expect(packages).toContain('fastify');
    expect(packages).toContain('undici');
  });

  it.each(['ioredis', '@smithy/signature-v4', '@smithy/hash-node', '@smithy/eventstream-codec', '@smithy/util-utf8', 'libp2p', '@duckdb/node-api'])(
    'does not load %s until a node needs it',
    (name) => {
      expect(packages).not.toContain(name);
    },
  );
});
