import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QuotaExceededError, QuotaStore, type CounterRecord, type QuotaCharge, type QuotaDb } from '../../../src/policy/index.js';
import { Store } from '../../../src/store/index.js';

const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

async function openStore(dir?: string): Promise<Store> {
  const store = await Store.open(dir ?? (await mkdtemp(join(tmpdir(), 'meshgate-quota-'))));
  opened.push(store);
  return store;
}

const requests = (limit: number, period: QuotaCharge['period'] = 'day'): QuotaCharge => ({ scope: 'token:t1', metric: 'requests', limit, period, amount: 1 });

async function settleAll<T>(promises: Promise<T>[]) {
  const results = await Promise.allSettled(promises);
  return {
    admitted: results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<T>).value),
    refused: results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as unknown),
  };
}

describe('QuotaStore', () => {
  it('admits exactly L of 50 concurrent requests against a limit of L = 10', async () => {
    const quotas = await QuotaStore.forStore(await openStore());
    const { admitted, refused } = await settleAll(Array.from({ length: 50 }, () => quotas.reserve([requests(10)])));
    expect(admitted).toHaveLength(10);
    expect(refused).toHaveLength(40);
    expect(refused.every((err) => err instanceof QuotaExceededError && err.state.charge.metric === 'requests')).toBe(true);
    expect(admitted.map((r) => r.states[0]!.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('keeps counts across a restart (close and reopen the store)', async () => {
    const first = await openStore();
    const dir = first.dir;
    const quotas = await QuotaStore.forStore(first);
    for (let i = 0; i < 3; i += 1) await quotas.reserve([requests(5)]);
    await first.close();
    const reopened = await QuotaStore.forStore(await openStore(dir));
    await reopened.reserve([requests(5)]);
    await reopened.reserve([requests(5)]);
    await expect(reopened.reserve([requests(5)])).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it('starts from zero in the next fixed UTC window', async () => {
    let now = Date.UTC(2026, 0, 31, 23, 59, 0);
    const quotas = await QuotaStore.forStore(await openStore(), () => now);
    await quotas.reserve([requests(1, 'hour')]);
    await quotas.reserve([{ ...requests(1, 'month'), scope: 'token:m' }]);
    await expect(quotas.reserve([requests(1, 'hour')])).rejects.toMatchObject({ state: { resetAt: Date.UTC(2026, 1, 1, 0, 0, 0) } });
    now = Date.UTC(2026, 1, 1, 0, 0, 1);
    await expect(quotas.reserve([requests(1, 'hour')])).resolves.toBeDefined();
    await expect(quotas.reserve([{ ...requests(1, 'month'), scope: 'token:m' }])).resolves.toBeDefined();
  });

  it('never resets a lifetime limit', async () => {
    let now = Date.UTC(2026, 0, 1);
    const quotas = await QuotaStore.forStore(await openStore(), () => now);
    await quotas.reserve([requests(1, 'lifetime')]);
    now = Date.UTC(2030, 0, 1);
    await expect(quotas.reserve([requests(1, 'lifetime')])).rejects.toMatchObject({ state: { resetAt: Number.POSITIVE_INFINITY } });
  });

  it('gives a failed request its reservation back', async () => {
    const quotas = await QuotaStore.forStore(await openStore());
    const held = await quotas.reserve([requests(1)]);
    await expect(quotas.reserve([requests(1)])).rejects.toBeInstanceOf(QuotaExceededError);
    await held.release();
    await expect(quotas.reserve([requests(1)])).resolves.toBeDefined();
  });

  it('reserves all charges of a request or none', async () => {
    const quotas = await QuotaStore.forStore(await openStore());
    const ip = (limit: number): QuotaCharge => ({ scope: 'token:t1:ip:1.2.3.4', metric: 'ip', limit, period: 'hour', amount: 1 });
    await quotas.reserve([requests(10), ip(1)]);
    await expect(quotas.reserve([requests(10), ip(1)])).rejects.toMatchObject({ state: { charge: { metric: 'ip' } } });
    const state = quotas.peek({ scope: 'token:t1', metric: 'requests', limit: 10, period: 'day' });
    expect(state.used).toBe(1);
  });

  it('settles token reservations to the real usage, so the limit holds within the in-flight bound', async () => {
    const quotas = await QuotaStore.forStore(await openStore());
    const tokens = (amount: number): QuotaCharge => ({ scope: 'key:k', metric: 'tokens', limit: 1_000, period: 'day', amount });
    // Reserve the estimate; settle to less: the difference is returned.
    const a = await quotas.reserve([tokens(400)]);
    await a.settle({ tokens: 100 });
    expect((quotas.peek({ scope: 'key:k', metric: 'tokens', limit: 1_000, period: 'day' })).used).toBe(100);
    // Six requests in flight each estimated at 150 fill the 900 left exactly; each really uses 250.
    const inFlight = await Promise.all(Array.from({ length: 6 }, () => quotas.reserve([tokens(150)])));
    await expect(quotas.reserve([tokens(150)])).rejects.toBeInstanceOf(QuotaExceededError);
    await Promise.all(inFlight.map((held) => held.settle({ tokens: 250 })));
    const used = (quotas.peek({ scope: 'key:k', metric: 'tokens', limit: 1_000, period: 'day' })).used;
    // Documented bound: limit + Σ over requests in flight of (actual − estimate) = 1000 + 6 × 100.
    expect(used).toBe(1_600);
    expect(used).toBeLessThanOrEqual(1_000 + 6 * (250 - 150));
    // Once over the limit nothing more is admitted, not even a request with a zero estimate.
    await expect(quotas.reserve([tokens(0)])).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it('fails closed: a write that fails refuses the request and leaves the counter unchanged', async () => {
    const records = new Map<string, CounterRecord>();
    let failWrites = false;
    const db: QuotaDb = {
      async *iterator() {
        yield* records.entries();
      },
      batch: async (operations) => {
        if (failWrites) throw new Error('disk full');
        for (const op of operations) if (op.type === 'put') records.set(op.key, op.value);
      },
    };
    const quotas = await QuotaStore.open(db);
    await quotas.reserve([requests(2)]);
    failWrites = true;
    await expect(quotas.reserve([requests(2)])).rejects.toThrow('disk full');
    failWrites = false;
    await quotas.reserve([requests(2)]);
    await expect(quotas.reserve([requests(2)])).rejects.toBeInstanceOf(QuotaExceededError);
    expect([...records.values()].map((record) => record.used)).toEqual([2]);
  });

  it('writes a settlement with the next reservation (one write per request), else alone 50 ms later, and at flush', async () => {
    const writes: string[][] = [];
    const records = new Map<string, CounterRecord>();
    const db: QuotaDb = {
      async *iterator() {
        yield* records.entries();
      },
      batch: async (operations) => {
        writes.push(operations.map((op) => (op.type === 'put' ? `${op.key.split('|')[1]}=${op.value.used}` : `del ${op.key}`)));
        for (const op of operations) if (op.type === 'put') records.set(op.key, op.value);
      },
    };
    const quotas = await QuotaStore.open(db);
    const tokens = (amount: number): QuotaCharge => ({ scope: 'token:t1', metric: 'tokens', limit: 10_000, period: 'day', amount });
    const first = await quotas.reserve([tokens(500)]);
    expect(writes).toEqual([['tokens=500']]);
    // Settled at 120: counted at once, written with the next reservation's write — not a write of its own.
    const settled = first.settle({ tokens: 120 });
    await quotas.reserve([tokens(500)]);
    await settled;
    expect(writes).toEqual([['tokens=500'], ['tokens=620']]);
    // Nothing else writes: the settlement goes alone, 50 ms later.
    const alone = await quotas.reserve([tokens(1)]);
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      void alone.settle({ tokens: 1 });
      await vi.advanceTimersByTimeAsync(49);
      expect(writes).toHaveLength(3);
      await vi.advanceTimersByTimeAsync(1);
      expect(writes).toHaveLength(4);
    } finally {
      vi.useRealTimers();
    }
    expect(writes.slice(2)).toEqual([['tokens=621'], ['tokens=621']]);
    // flush writes what waits at once.
    const held = await quotas.reserve([tokens(100)]);
    void held.release();
    await quotas.flush();
    expect(writes.at(-1)).toEqual(['tokens=621']);
    expect(records.get([...records.keys()][0]!)!.used).toBe(621);
  });

  it('writes the reservations of one turn of the event loop with one write', async () => {
    let writes = 0;
    const db: QuotaDb = { async *iterator() {}, batch: async () => void (writes += 1) };
    const quotas = await QuotaStore.open(db);
    await Promise.all(Array.from({ length: 20 }, (_, i) => quotas.reserve([{ ...requests(100), scope: `token:t${i % 3}` }])));
    expect(writes).toBe(1);
  });

  it('fails closed when the counters cannot be read at start', async () => {
    const db: QuotaDb = {
      async *iterator() {
        throw new Error('corrupt');
      },
      batch: async () => undefined,
    };
    await expect(QuotaStore.open(db)).rejects.toThrow('corrupt');
  });

  it('deletes counters of ended windows at start and keeps live and lifetime ones', async () => {
    let now = Date.UTC(2026, 0, 1, 10, 30);
    const first = await openStore();
    const quotas = await QuotaStore.forStore(first, () => now);
    await quotas.reserve([requests(5, 'hour')]);
    await quotas.reserve([{ ...requests(5, 'lifetime'), scope: 'token:life' }]);
    await quotas.reserve([{ ...requests(5, 'day'), scope: 'token:day' }]);
    await first.close();
    now = Date.UTC(2026, 0, 1, 12, 0);
    const reopened = await openStore(first.dir);
    await QuotaStore.forStore(reopened, () => now);
    const keys: string[] = [];
    for await (const key of reopened.sublevel<CounterRecord>('quota').keys()) keys.push(key);
    expect(keys.map((key) => key.split('|').slice(0, 3).join('|')).sort()).toEqual(['token:day|requests|day', 'token:life|requests|lifetime']);
  });
});
