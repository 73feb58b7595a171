import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROCESS_TEST_TIMEOUT_MS } from '../helpers/node-process.js';
import { CHROMIUM, SYSTEM_COMPONENTS, locate, missingLine, systemTestsRequired } from '../helpers/system-component.js';

/**
 * A fresh clone without Chromium: `npm test` skips the browser test with one line and counts it as skipped; CI (or
 * MESHGATE_REQUIRE_SYSTEM_TESTS=1) fails it instead. Proven by running vitest on the browser test in a child process
 * with MESHGATE_CHROMIUM pointing at a path that does not exist.
 */
const ROOT = join(import.meta.dirname, '../..');
const MISSING = '/nonexistent/meshgate-test/chromium';

function vitestOn(file: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', file], {
    cwd: ROOT,
    // A clean environment: nothing of this (outer) vitest run, no CI flag unless the test sets one.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

describe('system components', () => {
  it('are looked for only at the override path when it is set', () => {
    expect(locate(CHROMIUM, { MESHGATE_CHROMIUM: MISSING })).toBeUndefined();
    expect(locate(CHROMIUM, { MESHGATE_CHROMIUM: process.execPath })).toBe(process.execPath);
    expect(missingLine(CHROMIUM, 'browser tests', { MESHGATE_CHROMIUM: MISSING }))
      .toBe(`browser tests: Chromium not found (MESHGATE_CHROMIUM=${MISSING}); install it with \`apt-get install chromium\` or set MESHGATE_CHROMIUM to its path`);
  });

  it('are required under CI=true or MESHGATE_REQUIRE_SYSTEM_TESTS=1 only', () => {
    expect(systemTestsRequired({})).toBe(false);
    expect(systemTestsRequired({ CI: 'false', MESHGATE_REQUIRE_SYSTEM_TESTS: '0' })).toBe(false);
    expect(systemTestsRequired({ CI: 'true' })).toBe(true);
    expect(systemTestsRequired({ MESHGATE_REQUIRE_SYSTEM_TESTS: '1' })).toBe(true);
  });

  it('missing on a dev machine: the browser test is skipped with one line, the run passes and counts it skipped', async () => {
    const { code, output } = await vitestOn('test/browser/origin.test.ts', { MESHGATE_CHROMIUM: MISSING });
    expect(output).toContain(`skipped origin-bound token in a real browser: Chromium not found (MESHGATE_CHROMIUM=${MISSING}); install it with \`apt-get install chromium\``);
    expect(output).toMatch(/Tests\s+2 skipped/);
    expect(code, output).toBe(0);
  }, PROCESS_TEST_TIMEOUT_MS);

  it('missing in CI: the browser test fails, saying what is missing', async () => {
    const { code, output } = await vitestOn('test/browser/origin.test.ts', { MESHGATE_CHROMIUM: MISSING, CI: 'true' });
    expect(output).toContain('needs Chromium');
    expect(output).toContain('(required here: CI=true or MESHGATE_REQUIRE_SYSTEM_TESTS=1)');
    expect(output).toMatch(/Tests\s+1 failed/);
    expect(code, output).toBe(1);
  }, PROCESS_TEST_TIMEOUT_MS);

  it('.ci/run installs every component, requires the system tests, and runs the README test command', () => {
    const script = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const packages = /^SYSTEM_PACKAGES=\(([^)]*)\)$/m.exec(script)?.[1]?.trim().split(/\s+/) ?? [];
    for (const component of SYSTEM_COMPONENTS) expect(packages, component.name).toContain(component.debianPackage);
    expect(script).toMatch(/^export MESHGATE_REQUIRE_SYSTEM_TESTS=1$/m);
    const testCommand = /^(npm ci && npm test)\s+# run the test suite/m.exec(readme)?.[1];
    expect(testCommand).toBe('npm ci && npm test');
    expect(script.trimEnd().split('\n').at(-1)).toBe(testCommand);
    for (const component of SYSTEM_COMPONENTS) expect(readme, `README names ${component.pathEnv}`).toContain(component.pathEnv);
    expect(readme).toContain('MESHGATE_REQUIRE_SYSTEM_TESTS');
  });
});
