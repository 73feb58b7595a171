import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authConfigSchema, createAccessControl, keyMapSchema, type AccessControl, type AccessControlOptions, type Principal } from '../../../src/auth/index.js';
import { GatewayError } from '../../../src/errors/index.js';
import { Store } from '../../../src/store/index.js';

/** Access control over a real Store in a temp directory; `reopen` simulates a restart on the same data. */
export async function accessControlFixture(
  auth: Record<string, unknown> = {},
  extra: { keyMap?: Record<string, unknown>; trustProxy?: boolean | number; now?: () => number; dir?: string; federation?: AccessControlOptions['federation'] } = {},
) {
  const dir = extra.dir ?? (await mkdtemp(join(tmpdir(), 'meshgate-auth-')));
  const store = await Store.open(dir);
  const options: AccessControlOptions = {
    auth: authConfigSchema.parse(auth),
    keyMap: keyMapSchema.parse(extra.keyMap ?? {}),
    store,
    dataDir: dir,
    trustProxy: extra.trustProxy,
    now: extra.now,
    federation: extra.federation,
  };
  const ac = await createAccessControl(options);
  return {
    ac,
    dir,
    store,
    close: async () => {
      await ac.close();
      await store.close();
    },
    reopen: async () => {
      await ac.close();
      await store.close();
      return accessControlFixture(auth, { ...extra, dir });
    },
  };
}

/** A `fixture` that is closed after each test (register with the file's `afterEach`). */
export function fixtureCloser(afterEach: (fn: () => Promise<void>) => void) {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  const fixture = async (...args: Parameters<typeof accessControlFixture>) => {
    const made = await accessControlFixture(...args);
    closers.push(made.close);
    return made;
  };
  return { fixture, closers };
}

/** The GatewayError a call or promise fails with (any other outcome fails the test). */
export async function failure(promise: Promise<unknown> | (() => unknown)): Promise<GatewayError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

export const bearer = (credential: string, more: Record<string, string> = {}) => ({ authorization: `Bearer ${credential}`, ...more });

/** Mints a token with `claims` and authenticates a request carrying it. */
export async function tokenPrincipal(ac: AccessControl, claims: Record<string, unknown>, headers: Record<string, string> = {}, ip?: string): Promise<Principal> {
  const { token } = await ac.tokens.mint(claims);
  return ac.authenticator.authenticate({ headers: bearer(token, headers), ip });
}
