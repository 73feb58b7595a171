import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { INDEX_FILE, UsageIndex, type RecordSource, type UsageIndexOptions } from '../../../src/analytics/index.js';
import type { StoredReceipt } from '../../../src/ledger/index.js';
import type { UsageRecord } from '../../../src/records/index.js';
import { recordKey } from '../../../src/records/record-keys.js';
import { makeRecord, mixedRecords } from '../records/make-record.js';

/**
 * The DuckDB mirror: caught up from the stored records (only what changed after a restart), kept in step with new
 * ones, swept, read by callers' SQL in its own process under the read-only rule, and back after that process dies.
 */
let dir: string;
const open: UsageIndex[] = [];
const BASE = Date.UTC(2026, 0, 1);

/** A record store's keys and values, in memory; `read` lists the keys the index asked for. */
function source(records: UsageRecord[]): RecordSource & { read: string[]; records: Map<string, UsageRecord> } {
  const byKey = new Map(records.map((r) => [recordKey(r.time, r.id), r]));
  const read: string[] = [];
  return {
    read,
    records: byKey,
    async *keys() {
      yield* [...byKey.keys()].sort();
    },
    async texts(keys) {
      read.push(...keys);
      return keys.flatMap((key) => (byKey.has(key) ? [JSON.stringify(byKey.get(key)!)] : []));
    },
  };
}

function index(options: Partial<UsageIndexOptions> = {}): UsageIndex {
  const created = new UsageIndex({ dir, memoryMb: 128, threads: 1, timeoutMs: 10_000, maxRows: 100, ...options });
  open.push(created);
  return created;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-index-'));
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((i) => i.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('UsageIndex', () => {
  it('catches up from the stored records, attempts and findings included, and keeps a record added meanwhile once', async () => {
    const records = mixedRecords(BASE);
    const live = makeRecord({ id: 'live-1', time: BASE + 60_000, findings: [{ type: 'email', location: 'messages[0].content', action: 'redacted' }] });
    const stored = source(records);
    const usage = index();
    expect(usage.state().ready).toBe(false);
    const caughtUp = usage.catchUp(stored);
    usage.add(JSON.stringify(records[0]!)); // mirrored live while the catch-up reads the same record from LevelDB
    usage.add(JSON.stringify(live));
    await caughtUp;
    expect(usage.state().ready).toBe(true);

    const counts = await usage.query('SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM attempts), (SELECT count(*) FROM findings)');
    const attempts = records.reduce((n, r) => n + r.attempts.length, 0) + live.attempts.length;
    const findings = records.reduce((n, r) => n + r.findings.length, 0) + 1;
    expect(counts.rows).toEqual([[records.length + 1, attempts, findings]]);
    expect(usage.state().records).toBe(records.length + 1);

    const failover = await usage.query("SELECT n, target, ok, code FROM attempts WHERE record_id = 'r02' ORDER BY n");
    expect(failover.rows).toEqual([[1, 'openai-main', 0, 'upstream_error'], [2, 'anthropic-main', 1, null]]);
    const cost = await usage.query("SELECT cost_micros, cost_usd, stream, ttft_ms, profile FROM records WHERE id = 'r01'");
    expect(cost.rows).toEqual([[1200, 0.0012, 1, 40, null]]);
  });

  it('after a restart copies only the records it lacks and drops those LevelDB no longer has', async () => {
    const first = source([makeRecord({ id: 'a', time: BASE }), makeRecord({ id: 'b', time: BASE + 1 }), makeRecord({ id: 'c', time: BASE + 2 })]);
    const before = index();
    await before.catchUp(first);
    before.add(JSON.stringify(makeRecord({ id: 'never-written', time: BASE + 3 }))); // mirrored, but its LevelDB write failed
    expect((await before.query('SELECT count(*) FROM records')).rows).toEqual([[4]]);
    await before.close();

    // While the node was down: 'a' was swept by retention, 'd' and 'e' were written (the index never saw them).
    const now = source([makeRecord({ id: 'b', time: BASE + 1 }), makeRecord({ id: 'c', time: BASE + 2 }), makeRecord({ id: 'd', time: BASE + 4, profile: 'cheap' }), makeRecord({ id: 'e', time: BASE + 5 })]);
    const after = index();
    await after.catchUp(now);
    expect(now.read).toEqual([recordKey(BASE + 4, 'd'), recordKey(BASE + 5, 'e')]);
    expect((await after.query('SELECT id, profile FROM records ORDER BY time')).rows).toEqual([['b', null], ['c', null], ['d', 'cheap'], ['e', null]]);
    expect((await after.query('SELECT count(*) FROM attempts')).rows).toEqual([[4]]);
  });

  it('sends new records in batches on its own, and what it still holds when it closes, so a restart copies none of them', async () => {
    const usage = index();
    await usage.catchUp(source([]));
    const added = Array.from({ length: 5 }, (_, i) => makeRecord({ id: `batched-${i}`, time: BASE + i }));
    for (const record of added) {
      usage.add(JSON.stringify(record));
      await new Promise((resolve) => setImmediate(resolve));
    }
    // No query asks for them: the send timer delivers them (the count follows the index process's replies).
    await vi.waitFor(() => expect(usage.state().records).toBe(5), { timeout: 10_000, interval: 20 });
    const last = makeRecord({ id: 'held-at-close', time: BASE + 10 });
    usage.add(JSON.stringify(last));
    await usage.close();

    const stored = source([...added, last]);
    const after = index();
    await after.catchUp(stored);
    expect(stored.read).toEqual([]);
    expect((await after.query('SELECT count(*) FROM records')).rows).toEqual([[6]]);
  });

  it('replaces an index file of another schema version, and the SQLite index of earlier releases', async () => {
    await writeFile(join(dir, 'usage-index.sqlite'), 'old');
    await writeFile(join(dir, 'usage-index-v1.duckdb'), 'old');
    const usage = index();
    await usage.catchUp(source([makeRecord({ id: 'x', time: BASE })]));
    expect(existsSync(join(dir, 'usage-index.sqlite'))).toBe(false);
    expect(existsSync(join(dir, 'usage-index-v1.duckdb'))).toBe(false);
    expect(existsSync(join(dir, INDEX_FILE))).toBe(true);
    expect((await usage.query('SELECT id FROM records')).rows).toEqual([['x']]);
  });

  it('removes records, attempts and findings older than the retention cutoff', async () => {
    const usage = index();
    await usage.catchUp(source([
      makeRecord({ id: 'old', time: BASE, findings: [{ type: 'email', location: 'x', action: 'redacted' }] }),
      makeRecord({ id: 'new', time: BASE + 10_000 }),
    ]));
    expect(await usage.sweep(BASE + 5_000)).toBe(1);
    const left = await usage.query('SELECT (SELECT string_agg(id) FROM records), (SELECT count(*) FROM attempts), (SELECT count(*) FROM findings)');
    expect(left.rows).toEqual([['new', 1, 0]]);
  });

  it('holds the ledger\'s receipts with their direction from this node\'s point of view', async () => {
    const usage = index();
    await usage.catchUp(source([]));
    const receipt = (seq: number, issuer: string, subject: string, extra: Partial<StoredReceipt> = {}): StoredReceipt => ({
      jws: 'x.y.z', channel: 'A|B', seq, issuer, subject, requestId: `req-${seq}`, model: 'gpt-4o', cost: 2_000, total: 2_000 * seq, hash: 'h', iat: BASE + seq, ...extra,
    });
    await usage.replaceReceipts([receipt(1, 'A', 'B', { ack: 'ack' }), receipt(2, 'B', 'A', { dispute: { reason: 'overcharged', at: BASE } })], 'A');
    const rows = await usage.query('SELECT seq, direction, cost_usd, acknowledged, disputed FROM receipts ORDER BY seq');
    expect(rows.rows).toEqual([[1, 'served', 0.002, 1, null], [2, 'consumed', 0.002, 0, 'overcharged']]);
    await usage.replaceReceipts([], 'A');
    expect((await usage.query('SELECT count(*) FROM receipts')).rows).toEqual([[0]]);
  });
});

describe('UsageIndex queries', () => {
  it.each([
    ['an INSERT behind WITH', 'WITH t AS (SELECT 1) INSERT INTO records (id) SELECT 1 FROM t', /INSERT is not allowed/],
    ['an UPDATE behind WITH', 'WITH t AS (SELECT 1) UPDATE records SET status = 0', /UPDATE is not allowed/],
    ['a DELETE behind WITH', 'WITH t AS (SELECT 1) DELETE FROM records', /DELETE is not allowed/],
    ['DuckDB\'s catalog', 'SELECT * FROM duckdb_settings()', /duckdb_settings\(\) is not allowed/],
    ['the information schema', 'SELECT table_name FROM information_schema.tables', /information_schema.tables is not allowed/],
    ['SQLite\'s names, which DuckDB answers', 'SELECT * FROM records WHERE id IN (SELECT name FROM sqlite_master)', /sqlite_master is not allowed/],
    ['a statement run by query()', "SELECT * FROM query('SELECT 1')", /query\(\) is not allowed/],
    ['a file reader', "SELECT * FROM read_csv('/etc/passwd')", /read_csv\(\) is not allowed/],
    ['a file named as a table', "SELECT * FROM '/etc/passwd'", /not allowed/],
    ['a setting', 'SET threads = 8', /not allowed/],
  ])('refuses %s, and the data is untouched', async (_name, sql, reason) => {
    const usage = index();
    await usage.catchUp(source([makeRecord({ id: 'r1', time: BASE })]));
    await expect(usage.query(sql)).rejects.toMatchObject({ code: 'sql_not_allowed', message: expect.stringMatching(reason) });
    expect((await usage.query('SELECT status FROM records')).rows).toEqual([[200]]);
  });

  it('reads CTEs, joins, sub-selects and generated rows over the usage tables', async () => {
    const usage = index();
    await usage.catchUp(source(mixedRecords(BASE)));
    const result = await usage.query(`WITH per AS (SELECT model, count(*) AS n FROM records GROUP BY model)
      SELECT p.model, p.n, (SELECT count(*) FROM attempts a JOIN records r ON a.record_id = r.id WHERE r.model = p.model) AS tries, g.i
      FROM per p, range(1) g(i) WHERE p.model IS NOT NULL ORDER BY p.model`);
    expect(result.columns).toEqual(['model', 'n', 'tries', 'i']);
    expect(result.rows.length).toBeGreaterThan(0);
  });

  it('starts the index process with none of the gateway\'s environment (provider keys live there)', async () => {
    process.env.MESHGATE_TEST_SECRET = 'sk-not-for-sql';
    try {
      const usage = index();
      await usage.catchUp(source([]));
      const environ = await readFile(`/proc/${usage.pid}/environ`, 'utf8');
      expect(environ).not.toContain('MESHGATE_TEST_SECRET');
      // Only the IPC channel Node itself sets up for a forked child.
      expect(environ.split('\0').filter(Boolean).map((entry) => entry.split('=')[0]).sort()).toEqual(['NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE']);
    } finally {
      delete process.env.MESHGATE_TEST_SECRET;
    }
  });

  it('answers integers beyond 2^53 as text, blobs as base64, booleans as 1 and 0', async () => {
    const usage = index();
    await usage.catchUp(source([]));
    const result = await usage.query("SELECT 9007199254740993, '\\x00\\xFF'::BLOB, 1.5, 2 > 1, sum(x) FROM range(3) t(x)");
    expect(result.rows).toEqual([['9007199254740993', 'AP8=', 1.5, 1, 3]]);
  });

  it('interrupts a query over the time limit and keeps the same process and data', async () => {
    const usage = index({ timeoutMs: 300 });
    await usage.catchUp(source([makeRecord({ id: 'r1', time: BASE })]));
    const pid = usage.pid;
    await expect(usage.query('WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n')).rejects.toMatchObject({ code: 'query_timeout', status: 504 });
    expect((await usage.query('SELECT count(*) FROM records')).rows).toEqual([[1]]);
    expect(usage.pid).toBe(pid);
  });

  it('comes back after the index process dies: a new one catches up, records added meanwhile included', async () => {
    const stored = source([makeRecord({ id: 'r1', time: BASE }), makeRecord({ id: 'r2', time: BASE + 1 })]);
    const usage = index();
    await usage.catchUp(stored);
    const pid = usage.pid!;
    process.kill(pid, 'SIGKILL');
    await expect(usage.query('SELECT 1')).rejects.toMatchObject({ code: 'analytics_unavailable' });
    const late = makeRecord({ id: 'r3', time: BASE + 2 });
    stored.records.set(recordKey(late.time, late.id), late);
    usage.add(JSON.stringify(late));
    await vi.waitFor(async () => {
      expect((await usage.query('SELECT id FROM records ORDER BY id')).rows).toEqual([['r1'], ['r2'], ['r3']]);
    }, { timeout: 20_000, interval: 100 });
    expect(usage.pid).not.toBe(pid);
  });

  it('runs queries one at a time and refuses more than it can queue', async () => {
    const small = index({ maxRows: 10, maxQueued: 2 });
    await small.catchUp(source([]));
    const first = small.query('SELECT 1');
    const second = small.query('SELECT 2');
    await expect(small.query('SELECT 3')).rejects.toMatchObject({ code: 'analytics_unavailable', status: 503 });
    expect((await first).rows).toEqual([[1]]);
    expect((await second).rows).toEqual([[2]]);
  });
});
