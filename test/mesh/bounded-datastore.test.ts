import { Key } from 'interface-datastore';
import { describe, expect, it } from 'vitest';
import { BoundedDatastore } from '../../src/mesh/bounded-datastore.js';

const bytes = (n: number) => new Uint8Array(n);

describe('the datastore DHT peers write into', () => {
  it('keeps DHT values within their byte budget, dropping the oldest first', async () => {
    const store = new BoundedDatastore({ recordBytes: 10_000, providerEntries: 100 });
    for (let i = 0; i < 30; i++) store.put(new Key(`/dht/record/k${i}`), bytes(1_000));
    expect(store.recordBytes).toBeLessThanOrEqual(10_000);
    expect(store.has(new Key('/dht/record/k0'))).toBe(false);
    expect(store.has(new Key('/dht/record/k29'))).toBe(true);
    // Rewriting a key replaces its size; deleting frees it.
    store.put(new Key('/dht/record/k29'), bytes(10));
    store.delete(new Key('/dht/record/k28'));
    expect(store.recordBytes).toBe(8 * 1_000 + 10);
  });

  it('keeps provider entries within their count, and leaves everything else alone', async () => {
    const store = new BoundedDatastore({ recordBytes: 10_000, providerEntries: 5 });
    for (let i = 0; i < 12; i++) store.put(new Key(`/dht/provider/cid/p${i}`), bytes(8));
    const providers = [];
    for await (const key of store.queryKeys({ prefix: '/dht/provider' })) providers.push(key.toString());
    expect(providers.sort()).toEqual(['p10', 'p11', 'p7', 'p8', 'p9'].map((p) => `/dht/provider/cid/${p}`).sort());
    for (let i = 0; i < 50; i++) store.put(new Key(`/peers/p${i}`), bytes(2_000));
    expect(store.has(new Key('/peers/p0'))).toBe(true);
  });
});
