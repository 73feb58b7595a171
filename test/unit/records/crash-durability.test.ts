import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordStore } from '../../../src/records/index.js';
import { Store } from '../../../src/store/index.js';

const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('RecordStore crash durability', () => {
  it('keeps every record whose write() resolved, and counts it in the usage buckets once, when the process is killed without close()', async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshgate-crash-'));
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8');
    for await (const chunk of child.stdout) {
      output += chunk;
      if (output.includes('\n')) break;
    }
    child.kill('SIGKILL');
    await once(child, 'exit');
    const { ids, persisted } = JSON.parse(output) as { ids: string[]; persisted: boolean[] };
    expect(persisted.every(Boolean)).toBe(true);

    const store = await Store.open(dir);
    const records = await RecordStore.open(store, { retentionDays: 0, flushIntervalMs: 60_000 });
    const page = await records.list({}, undefined, 1000);
    // The buckets were counted in memory only (killed before their timer): the journal counts them at open, once.
    const { totals } = await records.rollups('day', 0, Date.UTC(2027, 0, 1));
    await records.close();
    expect(page.data.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(totals.map(([, bucket]) => bucket.requests)).toEqual([ids.length]);
    const reopened = await RecordStore.open(store, { retentionDays: 0, flushIntervalMs: 60_000 });
    const again = await reopened.rollups('minute', 0, Date.UTC(2027, 0, 1));
    await reopened.close();
    await store.close();
    expect(again.totals.reduce((sum, [, bucket]) => sum + bucket.requests, 0)).toBe(ids.length);
  });
});
