import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { collectIdleGarbage } from '../../../src/gateway/idle-memory.js';

describe('collectIdleGarbage', () => {
  it('gives back the heap that garbage left behind', async () => {
    let garbage: string[][] | undefined = Array.from({ length: 200 }, (_, i) => Array.from({ length: 1_000 }, (_, j) => `${i}:${j}:${'x'.repeat(32)}`));
    const grown = getHeapStatistics().total_heap_size;
    expect(garbage.length).toBe(200);
    garbage = undefined;
    const heap = await collectIdleGarbage();
    expect(heap).toBeDefined();
    expect(heap!.before).toBeGreaterThanOrEqual(grown);
    expect(heap!.after).toBeLessThan(heap!.before - 8 * 1048576);
  });
});
