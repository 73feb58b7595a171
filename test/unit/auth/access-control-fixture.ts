import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessControl, authConfigSchema, keyMapSchema, type AccessControlOptions } from '../../../src/auth/index.js';
import { Store } from '../../../src/store/index.js';

/** An AccessControl over a real Store in a temp directory; `reopen` simulates a restart on the same data. */
export async function accessControlFixture(
  auth: Record<string, unknown> = {},
  extra: { keyMap?: Record<string, unknown>; trustProxy?: boolean | number; now?: () => number; dir?: string } = {},
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
  };
  const ac = await AccessControl.create(options);
  return {
    ac,
    dir,
    store,
    close: () => store.close(),
    reopen: async () => {
      await store.close();
      return accessControlFixture(auth, { ...extra, dir });
    },
  };
}
