import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueryRunner, UsageIndex } from '../../../src/analytics/index.js';
import type { StoredReceipt } from '../../../src/ledger/index.js';
import type { UsageRecord } from '../../../src/records/index.js';
import { makeRecord, mixedRecords } from '../records/make-record.js';

/** The SQL mirror: rebuilt from the stored records, kept in step with new ones, swept, and read by the query process. */
let dir: string;
let index: UsageIndex;
let runner: QueryRunner;
const BASE = Date.UTC(2026, 0, 1);

async function* stored(records: UsageRecord[]): AsyncGenerator<UsageRecord> {
  for (const record of records) yield record;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-index-'));
  index = UsageIndex.create(join(dir, 'usage.sqlite'));
  runner = new QueryRunner({ path: join(dir, 'usage.sqlite'), timeoutMs: 10_000, maxRows: 100 });
});

afterEach(async () => {
  runner.close();
  index.close();
  await rm(dir, { recursive: true, force: true });
});

describe('UsageIndex', () => {
  it('is rebuilt from the stored records, attempts and findings included, and keeps a record added meanwhile once', async () => {
    const records = mixedRecords(BASE);
    const live = makeRecord({ id: 'live-1', time: BASE + 60_000, findings: [{ type: 'email', location: 'messages[0].content', action: 'redacted' }] });
    expect(index.state().ready).toBe(false);
    index.add(records[0]!); // written live while the rebuild reads the same record from LevelDB
    index.add(live);
    index.flush();
    await index.rebuild(stored(records));
    expect(index.state()).toEqual({ ready: true, records: records.length + 1 });

    const counts = await runner.query('SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM attempts), (SELECT count(*) FROM findings)');
    const attempts = records.reduce((n, r) => n + r.attempts.length, 0) + live.attempts.length;
    const findings = records.reduce((n, r) => n + r.findings.length, 0) + 1;
    expect(counts.rows).toEqual([[records.length + 1, attempts, findings]]);

    const failover = await runner.query("SELECT n, target, ok, code FROM attempts WHERE record_id = 'r02' ORDER BY n");
    expect(failover.rows).toEqual([[1, 'openai-main', 0, 'upstream_error'], [2, 'anthropic-main', 1, null]]);
    const cost = await runner.query("SELECT cost_micros, cost_usd, stream, ttft_ms FROM records WHERE id = 'r01'");
    expect(cost.rows).toEqual([[1200, 0.0012, 1, 40]]);
  });

  it('removes records, attempts and findings older than the retention cutoff', async () => {
    await index.rebuild(stored([
      makeRecord({ id: 'old', time: BASE, findings: [{ type: 'email', location: 'x', action: 'redacted' }] }),
      makeRecord({ id: 'new', time: BASE + 10_000 }),
    ]));
    expect(index.sweep(BASE + 5_000)).toBe(1);
    const left = await runner.query('SELECT (SELECT group_concat(id) FROM records), (SELECT count(*) FROM attempts), (SELECT count(*) FROM findings)');
    expect(left.rows).toEqual([['new', 1, 0]]);
  });

  it('holds the ledger\'s receipts with their direction from this node\'s point of view', async () => {
    await index.rebuild(stored([]));
    const receipt = (seq: number, issuer: string, subject: string, extra: Partial<StoredReceipt> = {}): StoredReceipt => ({
      jws: 'x.y.z', channel: 'A|B', seq, issuer, subject, requestId: `req-${seq}`, model: 'gpt-4o', cost: 2_000, total: 2_000 * seq, hash: 'h', iat: BASE + seq, ...extra,
    });
    index.replaceReceipts([receipt(1, 'A', 'B', { ack: 'ack' }), receipt(2, 'B', 'A', { dispute: { reason: 'overcharged', at: BASE } })], 'A');
    const rows = await runner.query('SELECT seq, direction, cost_usd, acknowledged, disputed FROM receipts ORDER BY seq');
    expect(rows.rows).toEqual([[1, 'served', 0.002, 1, null], [2, 'consumed', 0.002, 0, 'overcharged']]);
    index.replaceReceipts([], 'A');
    expect((await runner.query('SELECT count(*) FROM receipts')).rows).toEqual([[0]]);
  });
});

describe('QueryRunner', () => {
  it('reads on a connection that cannot write, whatever the SQL text', async () => {
    await index.rebuild(stored([makeRecord({ id: 'r1', time: BASE })]));
    // Past the text check (it starts with WITH): the authorizer refuses the write when SQLite prepares it.
    await expect(runner.query('WITH t AS (SELECT 1) INSERT INTO records (id) SELECT 1 FROM t')).rejects.toMatchObject({ code: 'sql_not_allowed' });
    await expect(runner.query('WITH t AS (SELECT 1) UPDATE records SET status = 0')).rejects.toMatchObject({ code: 'sql_not_allowed' });
    expect((await runner.query('SELECT status FROM records')).rows).toEqual([[200]]);
  });

  it('starts the query process with none of the gateway\'s environment (provider keys live there)', async () => {
    process.env.MESHGATE_TEST_SECRET = 'sk-not-for-sql';
    try {
      await index.rebuild(stored([]));
      await runner.query('SELECT 1');
      const environ = await readFile(`/proc/${runner.pid}/environ`, 'utf8');
      expect(environ).not.toContain('MESHGATE_TEST_SECRET');
      // Only the IPC channel Node itself sets up for a forked child.
      expect(environ.split('\0').filter(Boolean).map((entry) => entry.split('=')[0]).sort()).toEqual(['NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE']);
    } finally {
      delete process.env.MESHGATE_TEST_SECRET;
    }
  });

  it('answers integers beyond 2^53 as text and blobs as base64', async () => {
    await index.rebuild(stored([]));
    const result = await runner.query("SELECT 9007199254740993, x'00ff', 1.5");
    expect(result.rows).toEqual([['9007199254740993', 'AP8=', 1.5]]);
  });

  it('runs queries one at a time and refuses more than it can queue', async () => {
    await index.rebuild(stored([]));
    const small = new QueryRunner({ path: join(dir, 'usage.sqlite'), timeoutMs: 10_000, maxRows: 10, maxQueued: 2 });
    try {
      const first = small.query('SELECT 1');
      const second = small.query('SELECT 2');
      await expect(small.query('SELECT 3')).rejects.toMatchObject({ code: 'analytics_unavailable', status: 503 });
      expect((await first).rows).toEqual([[1]]);
      expect((await second).rows).toEqual([[2]]);
    } finally {
      small.close();
    }
  });
});
