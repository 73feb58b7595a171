import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Analytics, analyticsConfigSchema } from '../../../src/analytics/index.js';
import type { RecordStore, UsageRecord } from '../../../src/records/index.js';
import { makeRecord } from '../records/make-record.js';

/** The analytics service before its index is built, and with SQL turned off. */
let dir: string;
const pipeline = { handle: () => Promise.reject(new Error('no model calls in this test')) };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-analytics-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A record store whose keys come one, then the other once `release` is called. */
function slowRecords(): { records: RecordStore; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const stored: Record<string, UsageRecord> = { '1!r1': makeRecord({ id: 'r1', time: 1 }), '2!r2': makeRecord({ id: 'r2', time: 2 }) };
  const records = {
    async *keys(): AsyncGenerator<string> {
      yield '1!r1';
      await released;
      yield '2!r2';
    },
    texts: async (keys: string[]) => keys.map((key) => JSON.stringify(stored[key]!)),
  } as unknown as RecordStore;
  return { records, release };
}

describe('Analytics', () => {
  it('answers 503 with Retry-After while the index is built, and the rows once it is', async () => {
    const { records, release } = slowRecords();
    const analytics = new Analytics({ config: analyticsConfigSchema.parse({}), dataDir: dir, records, retentionDays: 0, pipeline });
    try {
      await expect(analytics.query('SELECT count(*) FROM records')).rejects.toMatchObject({ code: 'analytics_unavailable', status: 503, headers: { 'retry-after': '5' } });
      release();
      await analytics.ready();
      expect((await analytics.query('SELECT count(*) FROM records')).rows).toEqual([[2]]);
    } finally {
      await analytics.close();
    }
  });

  it('answers 503 when SQL is turned off, and builds no index', async () => {
    const { records } = slowRecords();
    const analytics = new Analytics({ config: analyticsConfigSchema.parse({ enabled: false, model: 'gpt-4o' }), dataDir: dir, records, retentionDays: 0, pipeline });
    try {
      await expect(analytics.query('SELECT 1')).rejects.toMatchObject({ code: 'analytics_unavailable', message: expect.stringContaining('enabled = false') });
      await expect(analytics.ask('How many?', new AbortController().signal)).rejects.toMatchObject({ code: 'analytics_unavailable' });
    } finally {
      await analytics.close();
    }
  });
});
