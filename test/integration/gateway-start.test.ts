import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';

/** `Gateway.start` builds a node in dependency order and, when a step fails, closes what it had opened. */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-start-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const config = (auth: Record<string, unknown>) =>
  parseConfig({ server: { host: '127.0.0.1', port: 0, shutdown_grace_seconds: 1 }, storage: { dir }, auth, providers: [] }, 'start test', {});

describe('Gateway.start', () => {
  it('releases the data directory when a later start-up step fails, so the next start succeeds', async () => {
    // The country database is opened after LevelDB: the store is open (and locked) when this step fails.
    await expect(Gateway.start(config({ geo_db: join(dir, 'missing.mmdb') }), { logger: pino({ level: 'silent' }) })).rejects.toThrow(/auth\.geo_db/);
    const node = await Gateway.start(config({}), { logger: pino({ level: 'silent' }) });
    try {
      expect((await fetch(`${node.url}/health`)).status).toBe(200);
    } finally {
      await node.close();
    }
  });
});
