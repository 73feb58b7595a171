import { describe, it } from 'vitest';
import { locate, missingLine, systemTestsRequired, type Env, type SystemComponent } from './system-locate.js';

export { C_COMPILER, CHROMIUM, locate, missingLine, REDIS_SERVER, SYSTEM_COMPONENTS, systemTestsRequired } from './system-locate.js';
export type { Env, SystemComponent } from './system-locate.js';

/**
 * `describe(what, …)` for tests that need `component`, given its path. Without it: skipped with one line on stderr,
 * or, when system tests are required, one failing test carrying that line.
 */
export function describeWithSystemComponent(component: SystemComponent, what: string, body: (path: string) => void, env: Env = process.env): void {
  const path = locate(component, env);
  if (path !== undefined) {
    describe(what, () => body(path));
    return;
  }
  const line = missingLine(component, what, env);
  if (systemTestsRequired(env)) {
    describe(what, () => {
      it(`needs ${component.name}`, () => {
        throw new Error(`${line} (required here: CI=true or MESHGATE_REQUIRE_SYSTEM_TESTS=1)`);
      });
    });
    return;
  }
  console.warn(`skipped ${line}`);
  describe.skip(what, () => body(''));
}
