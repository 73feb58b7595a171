import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layering of src/: folders may import each other only one way (no cycle between folders, type-only imports
 * included, since a type cycle ties the folders together as much as a value one), and the bottom module `core/`
 * imports nothing of ours. Read from the source text: every `import … from`, `export … from`, `import '…'` and
 * `import('…')` with a relative specifier.
 */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');
const BOTTOM = 'core';
const SPECIFIER = /(?:\bimport|\bexport)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** `auth/access-control.ts` → `auth`; a file directly in src/ is a node of its own (`version.ts`). */
function folderOf(file: string): string {
  return relative(SRC, file).split(sep)[0]!;
}

/** Relative imports of each file, as absolute paths (`.js` specifiers name the `.ts` source). */
export function importsOf(text: string, file: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2]!;
    if (specifier.startsWith('.')) found.push(resolve(dirname(file), specifier));
  }
  return found;
}

function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? graph.set(from, new Map()).get(from)!;
    for (const target of importsOf(readFileSync(file, 'utf8'), file)) {
      const to = folderOf(target);
      // The first file that makes each edge, to name it in a failure.
      if (to !== from && !edges.has(to)) edges.set(to, `${relative(SRC, file)} → ${relative(SRC, target)}`);
    }
  }
  return graph;
}

/** Strongly connected components with more than one folder (Tarjan): each is a cycle, or several. */
export function cycles(graph: Map<string, Map<string, string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The import edges inside a component, so a failure says which file to change. */
function describeCycle(graph: Map<string, Map<string, string>>, component: string[]): string {
  const members = new Set(component);
  const lines = component.flatMap((from) => [...(graph.get(from) ?? [])].filter(([to]) => members.has(to)).map(([to, via]) => `  ${from} → ${to}  (${via})`));
  return `cycle between ${component.join(', ')}:\n${lines.join('\n')}`;
}

describe('import graph of src/', () => {
  const graph = folderGraph();

  it('has no cycle between folders', () => {
    expect(cycles(graph).map((component) => describeCycle(graph, component))).toEqual([]);
  });

  it(`keeps ${BOTTOM}/ at the bottom: it imports nothing of ours`, () => {
    expect(graph.has(BOTTOM)).toBe(true);
    expect([...graph.get(BOTTOM)!.values()]).toEqual([]);
  });

  it('reads every form of relative import, and finds a cycle where there is one', () => {
    const file = join(SRC, 'a/x.ts');
    const text = [
      "import { a } from '../b/one.js';",
      "import type { B } from '../c/two.js';",
      "export { d } from './own.js';",
      "export * from '../d/index.js';",
      "import '../e/side-effect.js';",
      "const lazy = await import('../f/lazy.js');",
      "import { z } from 'zod';",
      'import {\n  multi,\n  line,\n} from "../g/multi.js";',
    ].join('\n');
    expect(importsOf(text, file).map((path) => relative(SRC, path))).toEqual([
      'b/one.js', 'c/two.js', 'a/own.js', 'd/index.js', 'e/side-effect.js', 'f/lazy.js', 'g/multi.js',
    ].map((p) => p.split('/').join(sep)));
    const looped = new Map([['a', new Map([['b', '']])], ['b', new Map([['c', '']])], ['c', new Map([['a', '']])], ['d', new Map([['a', '']])]]);
    expect(cycles(looped)).toEqual([['a', 'b', 'c']]);
  });
});
