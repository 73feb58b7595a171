import { accessSync, constants } from 'node:fs';

/**
 * Where the system programs some tests (and the bench) need are found — no test-runner import here, so scripts
 * outside vitest can use it too.
 *
 * A program some tests need that `npm ci` does not install (Chromium, redis-server, a C compiler). On a dev machine
 * without it those tests are skipped with one line saying what and how to get it, and counted as skipped by vitest;
 * under `CI=true` or `MESHGATE_REQUIRE_SYSTEM_TESTS=1` (which `.ci/run` sets after installing them) they fail instead,
 * so CI can never pass by skipping.
 */
export interface SystemComponent {
  /** What it is, for people: "Chromium". */
  name: string;
  /** Where it is looked for, first match wins. */
  paths: string[];
  /** Environment variable holding its path; when set, only that path is looked at (tests use a missing one). */
  pathEnv: string;
  /** The Debian package `.ci/run` installs it from. */
  debianPackage: string;
}

export const CHROMIUM: SystemComponent = {
  name: 'Chromium', paths: ['/usr/bin/chromium', '/usr/bin/chromium-browser'], pathEnv: 'MESHGATE_CHROMIUM', debianPackage: 'chromium',
};

export const REDIS_SERVER: SystemComponent = {
  name: 'redis-server', paths: ['/usr/bin/redis-server', '/usr/local/bin/redis-server'], pathEnv: 'MESHGATE_REDIS_SERVER', debianPackage: 'redis-server',
};

/** The C compiler `npm install` builds the node's one native step with (native/build.mjs: malloc_trim at idle). */
export const C_COMPILER: SystemComponent = {
  name: 'a C compiler (cc)', paths: ['/usr/bin/cc', '/usr/bin/gcc', '/usr/local/bin/cc'], pathEnv: 'MESHGATE_CC', debianPackage: 'gcc',
};

/** Every component some test needs; `.ci/run` installs each one's package (a test checks). */
export const SYSTEM_COMPONENTS: SystemComponent[] = [CHROMIUM, REDIS_SERVER, C_COMPILER];

export type Env = Record<string, string | undefined>;

export function systemTestsRequired(env: Env = process.env): boolean {
  return env.CI === 'true' || env.MESHGATE_REQUIRE_SYSTEM_TESTS === '1';
}

/** The executable's path, or undefined when it is not there. */
export function locate(component: SystemComponent, env: Env = process.env): string | undefined {
  const override = env[component.pathEnv];
  const candidates = override ? [override] : component.paths;
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The one line printed when the tests of `what` are skipped or refused for want of `component`. */
export function missingLine(component: SystemComponent, what: string, env: Env = process.env): string {
  const looked = env[component.pathEnv] ? `${component.pathEnv}=${env[component.pathEnv]}` : component.paths.join(' or ');
  return `${what}: ${component.name} not found (${looked}); install it with \`apt-get install ${component.debianPackage}\` or set ${component.pathEnv} to its path`;
}

