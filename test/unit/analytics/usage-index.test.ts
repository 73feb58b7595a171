import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
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

const keyOf = (record: UsageRecord) => recordKey(record.time, record.id);

/**
 * A record store's keys and values, in memory; `read` lists the keys the index asked for; `empty()` is the same store
 * as a catch-up found it before these records were written (no keys listed, their texts readable).
 */
function source(records: UsageRecord[], listed = true, read: string[] = []): RecordSource & { read: string[]; records: Map<string, UsageRecord>; empty(): RecordSource & { read: string[] } } {
  const byKey = new Map(records.map((r) => [keyOf(r), r]));
  const self = {
    read,
    records: byKey,
    empty: () => source(records, false, read),
    async *keys() {
      if (listed) yield* [...byKey.keys()].sort();
    },
    async texts(keys: string[]) {
      read.push(...keys);
      return keys.flatMap((key: string) => (byKey.has(key) ? [JSON.stringify(byKey.get(key)!)] : []));
    },
  };
  return self;
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
    // Written while the catch-up reads LevelDB: the first is one it copies too, the second one it may not see.
    usage.add([keyOf(records[0]!)]);
    stored.records.set(keyOf(live), live);
    usage.add([keyOf(live)]);
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

  it('gives every column from the stored JSON: a record of an older build without its optional fields, and one with several attempts and findings', async () => {
    // Written before reasoning_tokens, cache, profile, client_ip and country existed; its attempt has no status, code or error.
    const older: Partial<UsageRecord> = makeRecord({ id: 'older', time: BASE, attempts: [{ target: 'openai-main', ok: true, duration_ms: 80.5 }] });
    for (const field of ['reasoning_tokens', 'cache', 'profile', 'client_ip', 'country'] as const) delete older[field];
    const full = makeRecord({
      id: 'full', time: BASE + 1, project: 'alpha', source: 'cli', principal: { kind: 'virtual_key', id: null }, client_format: 'anthropic',
      requested_model: 'fast', model: 'claude-sonnet-4', provider: null, served_by: 'peer', peer: '12D3KooWPeerB', status: 200,
      attempts: [
        { target: 'openai-main', ok: false, status: 429, code: 'rate_limited', error: 'openai-main answered 429: "slow down" — réessayez\n', duration_ms: 12.25, keys: [{ key: 'k1', status: 429 }] },
        { target: 'anthropic-main', ok: false, code: 'timeout', error: 'no answer in 30 s', duration_ms: 30_000 },
        { target: 'peer:12D3KooWPeerB', ok: true, status: 200, duration_ms: 410 },
      ],
      failovers: 2, prompt_tokens: 1_500, completion_tokens: 300, cached_tokens: 1_000, cache_write_tokens: 200, reasoning_tokens: 120,
      usage_estimated: true, cost_micros: null, priced: false, latency_ms: 30_422.5, ttft_ms: 95.5, stream: true, client_aborted: true, cache: 'miss',
      findings: [
        { type: 'email', location: 'messages[0].content', action: 'redacted' },
        { type: 'aws_access_key', location: 'messages[1].content', action: 'blocked' },
      ],
      profile: 'cheap', client_ip: '203.0.113.7', country: 'DE',
    });
    const usage = index();
    await usage.catchUp(source([older as UsageRecord, full]));

    const records = await usage.query('SELECT * FROM records ORDER BY time');
    expect(records.columns).toEqual([
      'id', 'time', 'project', 'source', 'principal_kind', 'principal_id', 'client_format', 'operation', 'requested_model', 'model', 'provider',
      'served_by', 'peer', 'status', 'error_type', 'attempts', 'failovers', 'prompt_tokens', 'completion_tokens', 'cached_tokens',
      'cache_write_tokens', 'reasoning_tokens', 'usage_estimated', 'cost_micros', 'cost_usd', 'priced', 'latency_ms', 'ttft_ms', 'stream',
      'client_aborted', 'findings', 'cache', 'profile',
    ]);
    expect(records.rows).toEqual([
      ['older', BASE, null, null, 'token', 'tok_1', 'openai', 'chat', 'gpt-4o', 'gpt-4o', 'openai-main', 'local', null, 200, null, 1, 0, 100, 20, 0, 0, 0, 0, 450, 0.00045, 1, 120, null, 0, 0, 0, null, null],
      ['full', BASE + 1, 'alpha', 'cli', 'virtual_key', null, 'anthropic', 'chat', 'fast', 'claude-sonnet-4', null, 'peer', '12D3KooWPeerB', 200, null, 3, 2, 1500, 300, 1000, 200, 120, 1, null, null, 0, 30422.5, 95.5, 1, 1, 2, 'miss', 'cheap'],
    ]);
    const attempts = await usage.query('SELECT * FROM attempts ORDER BY time, n');
    expect(attempts.rows).toEqual([
      ['older', BASE, 1, 'openai-main', 1, null, null, null, 80.5],
      ['full', BASE + 1, 1, 'openai-main', 0, 429, 'rate_limited', 'openai-main answered 429: "slow down" — réessayez\n', 12.25],
      ['full', BASE + 1, 2, 'anthropic-main', 0, null, 'timeout', 'no answer in 30 s', 30000],
      ['full', BASE + 1, 3, 'peer:12D3KooWPeerB', 1, 200, null, null, 410],
    ]);
    const findings = await usage.query('SELECT * FROM findings ORDER BY time, n');
    expect(findings.rows).toEqual([
      ['full', BASE + 1, 1, 'email', 'messages[0].content', 'redacted'],
      ['full', BASE + 1, 2, 'aws_access_key', 'messages[1].content', 'blocked'],
    ]);
  });

  it('copies a record whose text holds a lone surrogate (an upstream message cut at 500 characters inside an emoji), and the rest of its batch', async () => {
    // JSON.stringify writes a lone surrogate as the escape \ud83d, which DuckDB's JSON reader refuses as malformed.
    const cut = `${'x'.repeat(499)}😀`.slice(0, 500);
    const records = [
      makeRecord({ id: 'before', time: BASE }),
      makeRecord({ id: 'cut', time: BASE + 1, requested_model: 'gpt\udc00', attempts: [{ target: 'openai-main', ok: false, status: 400, error: cut, duration_ms: 5 }] }),
      makeRecord({ id: 'after', time: BASE + 2 }),
    ];
    // One written after the catch-up listed the keys: it comes in a copy of written records.
    const later = makeRecord({ id: 'later', time: BASE + 3, source: 'cli\ud800' });
    const stored = source([...records, later]);
    const usage = index();
    await usage.catchUp({ keys: source(records).keys, texts: stored.texts });
    expect((await usage.query('SELECT id, requested_model FROM records ORDER BY time')).rows).toEqual([['before', 'gpt-4o'], ['cut', 'gpt\ufffd'], ['after', 'gpt-4o']]);
    // As the appender stored it before: the lone half becomes U+FFFD, the rest of the text is kept.
    expect((await usage.query("SELECT error FROM attempts WHERE record_id = 'cut'")).rows).toEqual([[`${'x'.repeat(499)}\ufffd`]]);
    usage.add([keyOf(later)]);
    expect((await usage.query("SELECT source FROM records WHERE id = 'later'")).rows).toEqual([['cli\ufffd']]);
  });

  it('leaves out only the records the tables cannot take, says which, and copies the rest of their batch', async () => {
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const unreadable = [
      // A required field missing, or of a type its column cannot hold; findings as the first builds wrote them (strings).
      { ...makeRecord({ id: 'no-model', time: BASE + 1 }), requested_model: undefined },
      { ...makeRecord({ id: 'text-status', time: BASE + 2 }), status: 'ok' },
      { ...makeRecord({ id: 'string-findings', time: BASE + 3 }), findings: ['email'] },
      makeRecord({ id: 'attempt-without-target', time: BASE + 4, attempts: [{ target: null as unknown as string, ok: false, duration_ms: 1 }] }),
    ] as unknown as UsageRecord[];
    const good = [
      makeRecord({ id: 'good-1', time: BASE, findings: [{ type: 'email', location: 'messages[0].content', action: 'redacted' }] }),
      makeRecord({ id: 'good-2', time: BASE + 5 }),
    ];
    // Written after the catch-up listed the keys: the first copy after it, which also skips what it copied (good-1).
    const later = [{ ...makeRecord({ id: 'no-tokens', time: BASE + 6 }), prompt_tokens: undefined } as unknown as UsageRecord, makeRecord({ id: 'good-3', time: BASE + 7 })];
    const stored = source([...good, ...unreadable, ...later]);
    const usage = index({ logger: logger as never });
    await usage.catchUp({ keys: source([...good, ...unreadable]).keys, texts: stored.texts });
    expect(usage.state()).toEqual({ ready: true, records: 2 });
    expect(logger.warn).toHaveBeenCalledWith(
      { left_out: 4, ids: ['no-model', 'text-status', 'string-findings', 'attempt-without-target'] },
      expect.stringMatching(/records the index cannot take were left out/),
    );
    usage.add([keyOf(good[0]!), ...later.map(keyOf)]);
    const left = await usage.query('SELECT (SELECT string_agg(id, \',\' ORDER BY id) FROM records), (SELECT string_agg(DISTINCT record_id, \',\' ORDER BY record_id) FROM attempts), (SELECT count(*) FROM findings)');
    expect(left.rows).toEqual([['good-1,good-2,good-3', 'good-1,good-2,good-3', 1]]);
    expect(logger.warn).toHaveBeenLastCalledWith({ left_out: 1, ids: ['no-tokens'] }, expect.stringMatching(/records the index cannot take were left out/));
  });

  it('copies large records in appends that fit the least memory the config allows (64 MB)', async () => {
    // During an outage each request fails over through several targets, each attempt with an upstream message of up
    // to 500 characters: 6,000 such records are a 14 MB batch, which DuckDB's JSON reader needs ~5 times over.
    const large = (from: number) => Array.from({ length: 6_000 }, (_, i) => makeRecord({
      id: `large-${from + i}`, time: BASE + from + i,
      attempts: [1, 2, 3].map((n) => ({ target: `target-${n}`, ok: n === 3, status: 503, code: 'upstream_error', error: `upstream said: ${'x'.repeat(480)} ${i}`, duration_ms: n })),
    }));
    const first = large(0);
    const later = large(first.length);
    const stored = source([...first, ...later]);
    const usage = index({ memoryMb: 64 });
    // The first by the catch-up, the later ones (written after it listed the keys) in a copy of written records.
    await usage.catchUp({ keys: source(first).keys, texts: stored.texts });
    expect(usage.state()).toEqual({ ready: true, records: 6_000 });
    usage.add(later.map(keyOf));
    expect((await usage.query('SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM attempts)')).rows).toEqual([[12_000, 36_000]]);
  }, 60_000);

  it('keeps no record twice when more than one chunk was written during the catch-up that also copied them', async () => {
    // More than one append's worth (RECORD_CHUNK, 10,000): every chunk of the first copy after the catch-up skips
    // what the catch-up copied, not only the first.
    const records = Array.from({ length: 10_005 }, (_, i) => makeRecord({ id: `dup-${i}`, time: BASE + i }));
    const stored = source(records);
    const usage = index();
    const caughtUp = usage.catchUp(stored);
    usage.add(records.map(keyOf));
    await caughtUp;
    expect((await usage.query('SELECT count(*), count(DISTINCT id) FROM records')).rows).toEqual([[10_005, 10_005]]);
  }, 60_000);

  it('after a restart copies only the records it lacks and drops those LevelDB no longer has', async () => {
    const first = source([makeRecord({ id: 'a', time: BASE }), makeRecord({ id: 'b', time: BASE + 1 }), makeRecord({ id: 'c', time: BASE + 2 })]);
    const before = index();
    await before.catchUp(first);
    before.add([recordKey(BASE + 3, 'gone')]); // told of a record the store no longer holds (swept meanwhile): nothing to copy
    expect((await before.query('SELECT count(*) FROM records')).rows).toEqual([[3]]);
    await before.close();

    // While the node was down: 'a' was swept by retention, 'd' and 'e' were written (the index never saw them).
    const now = source([makeRecord({ id: 'b', time: BASE + 1 }), makeRecord({ id: 'c', time: BASE + 2 }), makeRecord({ id: 'd', time: BASE + 4, profile: 'cheap' }), makeRecord({ id: 'e', time: BASE + 5 })]);
    const after = index();
    await after.catchUp(now);
    expect(now.read).toEqual([recordKey(BASE + 4, 'd'), recordKey(BASE + 5, 'e')]);
    expect((await after.query('SELECT id, profile FROM records ORDER BY time')).rows).toEqual([['b', null], ['c', null], ['d', 'cheap'], ['e', null]]);
    expect((await after.query('SELECT count(*) FROM attempts')).rows).toEqual([[4]]);
  });

  it('copies written records at a quiet moment on its own, and what it still holds when it closes, so a restart copies none of them', async () => {
    const added = Array.from({ length: 5 }, (_, i) => makeRecord({ id: `batched-${i}`, time: BASE + i }));
    const last = makeRecord({ id: 'held-at-close', time: BASE + 10 });
    const stored = source([...added, last]);
    const live = index({ quietMs: 200 });
    // The catch-up found none of them; they are written now, one batch each.
    await live.catchUp(stored.empty());
    for (const record of added) {
      live.add([keyOf(record)]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // No query asks for them: the quiet timer copies them (the count follows the index process's replies).
    await vi.waitFor(() => expect(live.state().records).toBe(5), { timeout: 10_000, interval: 20 });
    expect(live.waiting).toBe(0);
    live.add([keyOf(last)]);
    expect(live.waiting).toBe(1);
    await live.close();

    const readBefore = stored.read.length;
    const after = index();
    await after.catchUp(stored);
    expect(stored.read.slice(readBefore)).toEqual([]);
    expect((await after.query('SELECT count(*) FROM records')).rows).toEqual([[6]]);
  });

  it('holds written records while more keep coming, copies them once a batch is full or the longest wait is up, and a query sees them at once', async () => {
    const records = Array.from({ length: 8 }, (_, i) => makeRecord({ id: `busy-${i}`, time: BASE + i }));
    const stored = source(records);
    const usage = index({ quietMs: 60_000, maxWaitMs: 60_000, copyBatch: 4 });
    await usage.catchUp(stored.empty());
    for (const record of records.slice(0, 3)) usage.add([keyOf(record)]);
    // Not quiet yet, not a full batch: nothing copied, only the keys held.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(usage.state().records).toBe(0);
    expect(stored.read).toEqual([]);
    expect(usage.waiting).toBe(3);
    // The fourth fills a batch: copied at once, read back from the store.
    usage.add([keyOf(records[3]!)]);
    await vi.waitFor(() => expect(usage.state().records).toBe(4), { timeout: 10_000, interval: 20 });
    expect(stored.read).toEqual(records.slice(0, 4).map(keyOf));
    // A query copies what waits before it runs.
    usage.add([keyOf(records[4]!)]);
    expect((await usage.query('SELECT count(*) FROM records')).rows).toEqual([[5]]);

    // Under a load that never pauses, the longest wait still copies them.
    const otherDir = await mkdtemp(join(tmpdir(), 'meshgate-index-'));
    onTestFinished(() => rm(otherDir, { recursive: true, force: true }));
    const waited = index({ dir: otherDir, quietMs: 60_000, maxWaitMs: 300, copyBatch: 1_000 });
    await waited.catchUp(stored.empty());
    const started = Date.now();
    for (const record of records.slice(5)) {
      waited.add([keyOf(record)]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await vi.waitFor(() => expect(waited.state().records).toBe(3), { timeout: 10_000, interval: 20 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
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
    usage.add([keyOf(late)]);
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
