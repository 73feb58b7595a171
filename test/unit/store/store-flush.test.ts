import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Store } from '../../../src/store/store.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** LevelDB's own count of table files, over its seven levels (an in-memory table written out goes to level 0, 1 or 2). */
const tableFiles = (store: Store) => Array.from({ length: 7 }, (_, level) => Number((store.db as unknown as { getProperty(name: string): string }).getProperty(`leveldb.num-files-at-level${level}`))).reduce((a, b) => a + b);

it("writes LevelDB's in-memory table out to a table file (an idle node's native memory back), keeping every value", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-flush-'));
  dirs.push(dir);
  const store = await Store.open(dir);
  const records = store.sublevel<{ n: number }>('record');
  await records.batch(Array.from({ length: 500 }, (_, n) => ({ type: 'put' as const, key: `r${String(n).padStart(4, '0')}`, value: { n } })));
  expect(tableFiles(store)).toBe(0); // the writes are in the in-memory table (and the log) only
  await store.flushMemtable();
  expect(tableFiles(store)).toBe(1);
  await store.flushMemtable(); // nothing new to write out: no further file
  expect(tableFiles(store)).toBe(1);
  expect(await records.get('r0499')).toEqual({ n: 499 });
  expect(await records.keys().all()).toHaveLength(500);
  await store.close();
  await expect(store.flushMemtable()).resolves.toBeUndefined(); // a closed store has nothing to write out
  const reopened = await Store.open(dir);
  expect(await reopened.sublevel<{ n: number }>('record').get('r0000')).toEqual({ n: 0 });
  await reopened.close();
});
