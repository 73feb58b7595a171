import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecordStore, type RecordFilters, type UsageRecord } from '../../../src/records/index.js';
import { Store } from '../../../src/store/index.js';
import { recordKey } from '../../../src/records/record-keys.js';
import { makeRecord, mixedRecords } from './make-record.js';

const BASE = Date.UTC(2026, 10, 1);
const DAY = 86_400_000;
/** Long enough that only explicit flushes, batch size and close() write anything during a test. */
const NO_TIMER_FLUSH = 60_000;

let dir: string;
let store: Store;
let records: RecordStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-records-'));
  store = await Store.open(dir);
  records = await RecordStore.open(store, { retentionDays: 30, flushIntervalMs: NO_TIMER_FLUSH });
});

afterEach(async () => {
  await records.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function reopen(options: { retentionDays?: number; maxBatchSize?: number } = {}): Promise<void> {
  await records.close();
  await store.close();
  store = await Store.open(dir);
  records = await RecordStore.open(store, { retentionDays: options.retentionDays ?? 30, flushIntervalMs: NO_TIMER_FLUSH, maxBatchSize: options.maxBatchSize });
}

async function listAll(filters: RecordFilters, limit: number): Promise<UsageRecord[]> {
  const all: UsageRecord[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const result = await records.list(filters, cursor, limit);
    expect(result.data.length).toBeLessThanOrEqual(limit);
    all.push(...result.data);
    if (result.next_cursor === null) return all;
    cursor = result.next_cursor;
  }
  throw new Error('pagination did not end');
}

describe('RecordStore durability', () => {
  it('keeps every record written before close(), across a reopen of the store', async () => {
    const written = Array.from({ length: 600 }, (_, i) => makeRecord({ id: `req_${i}`, time: BASE + i, project: i % 2 ? 'odd' : 'even' }));
    const persisted = written.map((record) => records.write(record));
    await reopen();
    expect(await Promise.all(persisted)).toEqual(written.map(() => true));
    const all = await listAll({}, 1000);
    expect(all.map((r) => r.id).sort()).toEqual(written.map((r) => r.id).sort());
    expect(all[0]).toEqual(written.at(-1));
    expect((await listAll({ project: 'odd' }, 1000)).length).toBe(300);
  });

  it('stores the JSON text a record is handed with byte for byte as the json encoding did, and reads records stored before', async () => {
    // A record stored the way the previous version wrote every record: the sublevel's json value encoding.
    const old = makeRecord({ id: 'stored-before', time: BASE });
    await store.sublevel<UsageRecord>('record').put(`${String(BASE).padStart(15, '0')}!stored-before`, old);
    const fresh = makeRecord({ id: 'encoded-once', time: BASE + 1, project: 'p' });
    const json = JSON.stringify(fresh);
    const written = records.write(fresh, json);
    await reopen();
    expect(await written).toBe(true);
    const raw = await store.sublevel<UsageRecord>('record').values({ valueEncoding: 'utf8' }).all();
    expect(raw).toEqual([JSON.stringify(old), json]);
    expect(await records.get('encoded-once')).toEqual(fresh);
    expect(await listAll({}, 10)).toEqual([fresh, old]);
    expect((await records.list({ project: 'p' })).data).toEqual([fresh]);
    const keys: string[] = [];
    for await (const key of records.keys()) keys.push(key);
    expect(await records.texts(keys)).toEqual([JSON.stringify(old), json]);
  });

  it('writes a full batch without waiting for close or the interval', async () => {
    await reopen({ maxBatchSize: 4 });
    const batch = [0, 1, 2, 3].map((i) => records.write(makeRecord({ id: `b${i}`, time: BASE + i })));
    expect(await Promise.all(batch)).toEqual([true, true, true, true]);
    // Read straight from LevelDB, past the RecordStore (whose queries would flush first).
    const stored = await store.sublevel<UsageRecord>('record').values().all();
    expect(stored.map((r) => r.id)).toEqual(['b0', 'b1', 'b2', 'b3']);
  });

  it('tells its listener the keys of each batch once it is on disk, and nothing of a batch the disk refused', async () => {
    await reopen({ maxBatchSize: 2 });
    const told: string[][] = [];
    records.onWritten((keys) => told.push(keys));
    const write = store.writeEncoded.bind(store);
    let refuse = true;
    store.writeEncoded = (operations) => {
      if (refuse) {
        refuse = false;
        return Promise.reject(new Error('EIO: i/o error'));
      }
      return write(operations).then(() => {
        // On disk when the listener hears of it: read straight from LevelDB.
        expect(told).toEqual([]);
      });
    };
    try {
      const a = makeRecord({ id: 'w0', time: BASE });
      const b = makeRecord({ id: 'w1', time: BASE + 1 });
      const written = [records.write(a), records.write(b)];
      // The full batch is refused; its retry (here asked for at once) writes it.
      await vi.waitFor(() => expect(refuse).toBe(false), { timeout: 2_000 });
      expect(told).toEqual([]);
      await records.flush();
      expect(await Promise.all(written)).toEqual([true, true]);
      expect(told).toEqual([[recordKey(a.time, a.id), recordKey(b.time, b.id)]]);
      expect(await records.texts(told[0]!)).toEqual([JSON.stringify(a), JSON.stringify(b)]);
    } finally {
      store.writeEncoded = write;
    }
  });

  it("reads records back for the SQL index without filling LevelDB's block cache (native memory nothing reads again)", async () => {
    const written = Array.from({ length: 6_000 }, (_, i) => makeRecord({ id: `c${i}`, time: BASE + i, error_type: 'x'.repeat(200) }));
    await Promise.all(written.map((record) => records.write(record)));
    await records.flush();
    // Out of the in-memory table into table files, whose blocks are what the cache holds.
    await store.flushMemtable();
    const keys = written.map((record) => recordKey(record.time, record.id));
    const level = store.db as unknown as { getProperty(name: string): string };
    const memory = () => Number(level.getProperty('leveldb.approximate-memory-usage'));
    const before = memory();
    expect(await records.texts(keys)).toHaveLength(written.length);
    const afterTexts = memory();
    // The same reads through the records API's getMany do fill it: what the figure tells apart.
    expect(await records.getMany(keys)).toHaveLength(written.length);
    expect(afterTexts - before).toBeLessThan(256 * 1024);
    expect(memory() - afterTexts).toBeGreaterThan(1024 * 1024);
  });

  it('writes queued records on its interval timer', async () => {
    await records.close();
    records = await RecordStore.open(store, { retentionDays: 30, flushIntervalMs: 5 });
    expect(await records.write(makeRecord({ id: 'timed', time: BASE }))).toBe(true);
    expect(await store.sublevel<UsageRecord>('record').values().all()).toHaveLength(1);
  });

  it('group commit (interval 0): writes at once, and records that arrive during a write share the next batch', async () => {
    await records.close();
    records = await RecordStore.open(store, { retentionDays: 30, flushIntervalMs: 0 });
    const batches: number[] = [];
    const write = store.writeEncoded.bind(store);
    store.writeEncoded = (operations) => {
      // Records only: the same batch also carries their request-id index entries and journal entry.
      batches.push(operations.filter((op) => op.type === 'put' && op.value.startsWith('{')).length);
      return write(operations);
    };
    try {
      const first = records.write(makeRecord({ id: 'g0', time: BASE }));
      await new Promise((r) => setImmediate(r)); // the first write is now running
      const rest = [1, 2, 3].map((i) => records.write(makeRecord({ id: `g${i}`, time: BASE + i })));
      expect(await Promise.all([first, ...rest])).toEqual([true, true, true, true]);
      // Records counted alone (their request-id index entries and usage buckets ride in the same batches).
      expect(batches).toEqual([1, 3]);
    } finally {
      store.writeEncoded = write;
    }
  });

  it('while the disk refuses writes, retries on the timer instead of on every new record, and writes the backlog once it can', async () => {
    await reopen({ maxBatchSize: 4 });
    // The records' batches (the usage buckets are written only after a batch of records was).
    const write = store.writeEncoded.bind(store);
    let attempts = 0;
    let failing = true;
    store.writeEncoded = (operations) => {
      attempts++;
      if (failing) return Promise.reject(new Error('ENOSPC: no space left on device'));
      return write(operations);
    };
    try {
      const first = records.write(makeRecord({ id: 'f0', time: BASE }));
      const rest: Array<Promise<boolean>> = [];
      for (let i = 0; i < 3; i++) rest.push(records.write(makeRecord({ id: `f${i + 1}`, time: BASE + i + 1 })));
      // The full batch is tried at once (no timer: flushIntervalMs is a minute) and fails; a write of it, or of the
      // backlog on a new record, is started in microtasks or an immediate, so one turn of the event loop shows it.
      const oneTurn = () => new Promise((resolve) => setImmediate(resolve));
      await vi.waitFor(() => expect(attempts).toBe(1), { timeout: 2_000 });
      await oneTurn();
      for (let i = 0; i < 1_000; i++) rest.push(records.write(makeRecord({ id: `g${i}`, time: BASE + 10 + i })));
      await oneTurn();
      await oneTurn();
      expect(attempts).toBe(1); // new records did not each trigger a write of the whole backlog
      failing = false;
      await records.close();
      expect(await Promise.all([first, ...rest])).toEqual(Array(1_004).fill(true));
      expect(await store.sublevel<UsageRecord>('record').keys().all()).toHaveLength(1_004);
    } finally {
      store.writeEncoded = write;
      records = await RecordStore.open(store, { retentionDays: 30, flushIntervalMs: NO_TIMER_FLUSH });
    }
  });

  it('refuses a record that is not valid, and one whose principal id is a credential', () => {
    expect(() => records.write({ ...makeRecord({ id: 'x', time: BASE }), prompt_tokens: -1 })).toThrow();
    expect(() => records.write(makeRecord({ id: 'y', time: BASE, principal: { kind: 'token', id: 'sk-live-abcdef' } }))).toThrow(/credential/);
    expect(() => records.write(makeRecord({ id: 'z', time: BASE, project: 'bad\u0000project' }))).toThrow();
    expect(() => records.write(makeRecord({ id: '', time: BASE }))).toThrow(/id/);
    expect(() => records.write(makeRecord({ id: 'c', time: BASE, cost_micros: 1.5 }))).toThrow(/cost_micros/);
    expect(() => records.write(makeRecord({ id: 'l', time: BASE, latency_ms: -3 }))).toThrow(/latency_ms/);
    expect(() => records.write(makeRecord({ id: 'p', time: BASE, profile: 'p'.repeat(65) }))).toThrow(/profile/);
    expect(() => records.write(makeRecord({ id: 'k', time: BASE, country: 'usa' }))).toThrow(/country/);
    // A finding carries type, location and action, never the text it matched.
    const leaky = { type: 'email', location: 'messages[0].content', action: 'redacted' as const, text: 'jane@example.com' };
    expect(() => records.write(makeRecord({ id: 'f', time: BASE, findings: [leaky] }))).toThrow(/finding/);
    // Three keys, but the matched text in place of the action.
    const swapped = { type: 'email', location: 'messages[0].content', text: 'jane@example.com' } as unknown as typeof leaky;
    expect(() => records.write(makeRecord({ id: 'g', time: BASE, findings: [swapped] }))).toThrow(/finding/);
    for (const count of ['prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'reasoning_tokens'] as const) {
      expect(() => records.write({ ...makeRecord({ id: `t-${count}`, time: BASE }), [count]: 1.5 })).toThrow(/token counts/);
    }
    expect(() => records.write(makeRecord({ id: 'a', time: BASE, attempts: [{ target: 'p/m', ok: true, duration_ms: 1 }, { target: 'p/m', ok: false, duration_ms: -1 }] }))).toThrow(/duration_ms/);
  });

  it('writes the usage buckets on their own timer, without a flush or close', async () => {
    const written = records.write(makeRecord({ id: 'timer', time: Date.now() }));
    await records.get('timer'); // writes the record (and its journal entry), not the buckets
    expect(await written).toBe(true);
    const rollups = store.sublevel('record-rollup');
    const buckets = async () => (await rollups.keys({ gte: 'm!t!', lt: 'm!t!~' }).all()).length;
    const journal = async () => (await rollups.keys({ gte: 'j!', lt: 'j!~' }).all()).length;
    await vi.waitFor(async () => expect(await buckets()).toBe(1), { timeout: 10_000, interval: 50 });
    expect(await journal()).toBe(0);
  });
});

describe('RecordStore retention', () => {
  it('removes records older than the retention period, with their project index entries', async () => {
    const now = BASE + 100 * DAY;
    for (let i = 0; i < 1200; i++) void records.write(makeRecord({ id: `old_${i}`, time: now - 40 * DAY + i, project: 'legacy' }));
    void records.write(makeRecord({ id: 'edge', time: now - 30 * DAY + 1, project: 'fresh' }));
    void records.write(makeRecord({ id: 'new', time: now - DAY, project: 'fresh' }));
    await records.flush();
    expect(await records.sweep(now)).toBe(1200);
    expect((await listAll({}, 100)).map((r) => r.id)).toEqual(['new', 'edge']);
    expect((await records.projects(undefined, now)).map((p) => p.id)).toEqual(['fresh']);
    expect(await store.sublevel('record-project').keys().all()).toHaveLength(2);
    expect(await records.sweep(now)).toBe(0);
  });

  it('keeps everything when retention is 0', async () => {
    await reopen({ retentionDays: 0 });
    const persisted = records.write(makeRecord({ id: 'ancient', time: 1 }));
    await records.flush();
    expect(await persisted).toBe(true);
    expect(await records.sweep(BASE)).toBe(0);
    expect((await records.list({})).data).toHaveLength(1);
  });
});

describe('RecordStore queries', () => {
  const many = Array.from({ length: 40 }, (_, i) =>
    makeRecord({
      id: `q${String(i).padStart(2, '0')}`,
      time: BASE + i * 1000,
      project: ['alpha', 'beta', null][i % 3] ?? null,
      source: i % 2 ? 'cli' : 'web',
      model: i % 4 === 0 ? 'claude-sonnet-4' : 'gpt-4o',
      provider: i % 4 === 0 ? 'anthropic-main' : 'openai-main',
      status: i % 5 === 0 ? 502 : 200,
    }),
  );

  beforeEach(async () => {
    for (const record of many) void records.write(record);
  });

  const newestFirst = (list: UsageRecord[]) => [...list].sort((a, b) => b.time - a.time).map((r) => r.id);

  it.each<[string, RecordFilters, (r: UsageRecord) => boolean]>([
    ['no filter', {}, () => true],
    ['time range', { from: BASE + 5000, to: BASE + 15000 }, (r) => r.time >= BASE + 5000 && r.time < BASE + 15000],
    ['model', { model: 'claude-sonnet-4' }, (r) => r.model === 'claude-sonnet-4'],
    ['provider', { provider: 'openai-main' }, (r) => r.provider === 'openai-main'],
    ['project (index)', { project: 'alpha' }, (r) => r.project === 'alpha'],
    ['project + range + source', { project: 'beta', from: BASE + 10000, source: 'cli' }, (r) => r.project === 'beta' && r.time >= BASE + 10000 && r.source === 'cli'],
    ['status=error', { status: 'error' }, (r) => r.status >= 400],
    ['status=success', { status: 'success' }, (r) => r.status < 400],
    ['status=502', { status: 502 }, (r) => r.status === 502],
  ])('filters by %s and pages through every match with a cursor', async (_name, filters, predicate) => {
    const expected = newestFirst(many.filter(predicate));
    expect(expected.length).toBeGreaterThan(0);
    expect((await listAll(filters, 7)).map((r) => r.id)).toEqual(expected);
  });

  it('rejects a cursor it did not issue', async () => {
    await expect(records.list({}, 'not-a-cursor')).rejects.toThrow(RangeError);
  });

  it('lists projects with first and last activity, and only recently active ones on request', async () => {
    const projects = await records.projects();
    expect(projects).toEqual([
      { id: 'alpha', first_seen: BASE, last_seen: BASE + 39000 },
      { id: 'beta', first_seen: BASE + 1000, last_seen: BASE + 37000 },
    ]);
    // At BASE+98s: alpha was last seen at +39s (within 1 min), beta at +37s (only within 2 min).
    expect((await records.projects(1, BASE + 38000 + 60_000)).map((p) => p.id)).toEqual(['alpha']);
    expect((await records.projects(2, BASE + 38000 + 60_000)).map((p) => p.id)).toEqual(['alpha', 'beta']);
  });
});

describe('RecordStore stats', () => {
  it('totals and breaks down a mix of requests by model, provider, source, project, principal and peer', async () => {
    const mix = mixedRecords(BASE);
    for (const record of mix) void records.write(record);
    const stats = await records.stats({ from: BASE, to: BASE + 60_000 });

    expect(stats.totals).toMatchObject({
      requests: 7,
      errors: 2,
      failed_over: 2,
      saved_by_failover: 1,
      streamed: 1,
      prompt_tokens: mix.reduce((sum, r) => sum + r.prompt_tokens, 0),
      completion_tokens: mix.reduce((sum, r) => sum + r.completion_tokens, 0),
      cached_tokens: 200,
      cost_micros: 450 + 1200 + 900 + 0 + 300 + 0,
      cost_usd: 0.00285,
      unpriced_requests: 1,
      avg_ttft_ms: 40,
    });
    const byKey = (dimension: keyof typeof stats.by) => Object.fromEntries(stats.by[dimension].map((g) => [g.key, g.requests]));
    // Requests no model served are counted under the model they asked for.
    expect(byKey('model')).toEqual({ 'gpt-4o': 5, 'claude-sonnet-4': 1, 'my-llm': 1 });
    expect(byKey('provider')).toEqual({ 'openai-main': 2, 'anthropic-main': 1, 'local-vllm': 1, '(none)': 3 });
    expect(byKey('source')).toEqual({ web: 3, cli: 2, batch: 1, '(none)': 1 });
    expect(byKey('project')).toEqual({ alpha: 3, beta: 2, gamma: 1, '(none)': 1 });
    expect(byKey('principal')).toEqual({ 'token:tok_1': 5, 'peer:12D3KooWPeerA': 1, 'virtual_key:team-a': 1 });
    expect(byKey('peer')).toEqual({ local: 4, none: 2, '12D3KooWPeerB': 1 });
    const alpha = stats.by.project.find((g) => g.key === 'alpha')!;
    expect(alpha).toMatchObject({ cost_micros: 1650, unpriced_requests: 1 });
    expect(stats.by.provider.find((g) => g.key === 'anthropic-main')).toMatchObject({ saved_by_failover: 1 });

    const late = await records.stats({ from: BASE + 5000 });
    expect(late.totals.requests).toBe(2);
  });
});

describe('RecordStore.get', () => {
  it('finds a record by its request id, and forgets it when the sweeper removes the record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-records-get-'));
    const store = await Store.open(dir);
    const records = await RecordStore.open(store, { retentionDays: 1, flushIntervalMs: 0 });
    try {
      const now = Date.now();
      void records.write(makeRecord({ id: 'req_old', time: now - 2 * 86_400_000 }));
      void records.write(makeRecord({ id: 'req_new', time: now }));
      expect((await records.get('req_new'))?.time).toBe(now);
      expect((await records.get('req_old'))?.id).toBe('req_old');
      expect(await records.get('req_none')).toBeUndefined();
      expect(await records.sweep(now)).toBe(1);
      expect(await records.get('req_old')).toBeUndefined();
      expect(await store.sublevel('record-id').get('req_old')).toBeUndefined();
    } finally {
      await records.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
