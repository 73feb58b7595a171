import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeOperation, Store, type SublevelOperation } from '../../../src/store/index.js';

const dirs: string[] = [];
async function openStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-store-'));
  dirs.push(dir);
  return Store.open(dir);
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Every stored key and value as bytes (the root database, no encodings): what another version of the store reads. */
async function storedBytes(store: Store): Promise<Array<[string, string]>> {
  const rows = await store.db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' } as never).all() as unknown as Array<[Buffer, Buffer]>;
  return rows.map(([key, value]) => [key.toString('hex'), value.toString('hex')]);
}

/** Sublevel operations of the shapes the records write: text, numbers, arrays, objects, keys with NUL and non-ASCII. */
function operations(store: Store): SublevelOperation[] {
  const records = store.sublevel('record');
  const index = store.sublevel('record-project');
  const ids = store.sublevel('record-id');
  return [
    { type: 'put', sublevel: records, key: '000001700000000!req_1', value: { id: 'req_1', note: 'a "quoted" ünïcödé line\nwith\u2028separators', n: 1.5 } },
    { type: 'put', sublevel: ids, key: 'req_1', value: '000001700000000!req_1' },
    { type: 'put', sublevel: index, key: 'projekt-ß\u0000000001700000000!req_1', value: 1 },
    { type: 'put', sublevel: index, key: 'gone\u0000000001700000000!req_0', value: 1 },
    { type: 'put', sublevel: store.sublevel('record-rollup'), key: 'j!000000000001', value: ['000001700000000!req_1', '🙂'] },
  ];
}

describe('Store.writeEncoded', () => {
  it('stores the bytes abstract-level batch stores for the same sublevel operations, readable through the sublevels', async () => {
    const viaBatch = await openStore();
    const viaEncoded = await openStore();
    const removal = (store: Store): SublevelOperation => ({ type: 'del', sublevel: store.sublevel('record-project'), key: 'gone\u0000000001700000000!req_0' });
    await viaBatch.db.batch(operations(viaBatch) as never);
    await viaBatch.db.batch([removal(viaBatch)] as never);
    await viaEncoded.writeEncoded(operations(viaEncoded).map(encodeOperation));
    await viaEncoded.writeEncoded([encodeOperation(removal(viaEncoded))]);

    const stored = await storedBytes(viaEncoded);
    expect(stored).toEqual(await storedBytes(viaBatch));
    expect(stored).toHaveLength(4);
    const records = viaEncoded.sublevel('record');
    expect(await records.get('000001700000000!req_1')).toEqual({ id: 'req_1', note: 'a "quoted" ünïcödé line\nwith\u2028separators', n: 1.5 });
    expect(await viaEncoded.sublevel('record-id').get('req_1')).toBe('000001700000000!req_1');
    expect(await viaEncoded.sublevel('record-project').keys().all()).toEqual(['projekt-ß\u0000000001700000000!req_1']);
    await viaBatch.close();
    await viaEncoded.close();
  });

  it('refuses a write once the store is closed, as batch does (instead of reaching a closed LevelDB)', async () => {
    const store = await openStore();
    await store.close();
    await expect(store.writeEncoded([encodeOperation({ type: 'put', sublevel: store.sublevel('record'), key: 'k', value: 1 })])).rejects.toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN' });
  });
});
