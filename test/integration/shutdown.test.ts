import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { INDEX_FILE } from '../../src/analytics/index.js';
import type { UsageRollup } from '../../src/records/usage-rollup.js';
import { Store } from '../../src/store/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { PROCESS_TEST_TIMEOUT_MS, recordedIds, startNodeProcess, STARTUP_TIMEOUT_MS, type NodeProcess } from '../helpers/node-process.js';

/**
 * SIGTERM on a real `meshgate start` process: it stops accepting, lets what is in flight finish (streams included),
 * writes every record, and exits as soon as the last exchange is done. The grace period (30 s here) is only the upper
 * bound, so "within a few seconds" proves the node did not wait it out (keep-alive sockets used to hold it open).
 */
const GRACE_SECONDS = 30;

let mock: MockUpstream;
let dir: string;
let node: NodeProcess | undefined;
/** Keep-alive client connections, as a load balancer or an SDK keeps them. */
let clients: Agent;

beforeEach(async () => {
  mock = await startMockUpstream();
  dir = await mkdtemp(join(tmpdir(), 'meshgate-shutdown-'));
  clients = new Agent({ keepAliveTimeout: 60_000, connections: 16 });
});

afterEach(async () => {
  node?.child.kill('SIGKILL');
  await node?.exited;
  node = undefined;
  await clients.destroy();
  await mock.close();
  await rm(dir, { recursive: true, force: true });
});

function chat(url: string, stream = false) {
  return request(`${url}/v1/chat/completions`, {
    method: 'POST', dispatcher: clients,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'one two three four five six seven eight' }] }),
  });
}

describe('SIGTERM', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('under load (8 keep-alive clients, upstream 30 ms, mesh on): exits within seconds, code 0, every completed request recorded', async () => {
    mock.setDefault({ kind: 'ok', delayMs: 30 });
    node = await startNodeProcess(mock, dir, { graceSeconds: GRACE_SECONDS, mesh: true });
    const { url } = node;
    const completed: string[] = [];
    const refused: number[] = [];
    let stopping = false;
    // Each client sends requests back to back until the node refuses one or closes its connection.
    const client = async () => {
      while (!stopping || completed.length === 0) {
        try {
          const res = await chat(url);
          await res.body.text();
          if (res.statusCode !== 200) {
            refused.push(res.statusCode);
            return;
          }
          completed.push(String(res.headers['x-request-id']));
        } catch {
          return; // connection closed or refused: the node stopped accepting
        }
      }
    };
    const load = Array.from({ length: 8 }, client);
    await mock.waitForRequests(40, 60_000);
    const signalled = performance.now();
    node.child.kill('SIGTERM');
    stopping = true;
    const code = await node.exited;
    const exitMs = performance.now() - signalled;
    await Promise.all(load);

    expect(code).toBe(0);
    expect(exitMs).toBeLessThan((GRACE_SECONDS * 1000) / 3); // a few seconds at most, far from the grace period
    expect(refused.every((status) => status === 503)).toBe(true);
    expect(completed.length).toBeGreaterThanOrEqual(40);
    const recorded = await recordedIds(dir);
    for (const id of completed) expect(recorded.has(id), `record of completed request ${id}`).toBe(true);

    const drained = node.logs.find((l) => l.msg === 'shutdown: stopped accepting requests, draining in-flight ones');
    expect(drained).toMatchObject({ graceMs: GRACE_SECONDS * 1000 });
    expect(typeof drained?.inFlight).toBe('number');
    expect(node.logs.find((l) => l.msg?.startsWith('shutdown: complete'))).toMatchObject({ ms: expect.any(Number) });
    expect(node.logs.some((l) => l.msg?.startsWith('shutdown: grace period over'))).toBe(false);
    expect(node.stdout.at(-1)).toBe('meshgate stopped');
  });

  it('right after a burst: every completed request\'s record, usage bucket count and SQL index row is on disk when the node exits', async () => {
    node = await startNodeProcess(mock, dir, { graceSeconds: GRACE_SECONDS });
    await node.waitForLog((l) => l.msg === 'usage SQL index caught up', STARTUP_TIMEOUT_MS);
    const burst = await Promise.all(Array.from({ length: 40 }, async () => {
      const res = await chat(node!.url);
      await res.body.text();
      expect(res.statusCode).toBe(200);
      return String(res.headers['x-request-id']);
    }));
    // At once: the records, their buckets (written once a second) and their index copies (sent in batches) still
    // wait in memory, and shutdown must write them all.
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);

    const recorded = await recordedIds(dir);
    for (const id of burst) expect(recorded.has(id), `record of ${id}`).toBe(true);
    // The buckets as stored (read directly: opening a RecordStore would count a journal left behind).
    const store = await Store.open(join(dir, 'data'));
    try {
      const rollups = store.sublevel<UsageRollup | 1 | string[]>('record-rollup');
      const days = await rollups.values({ gte: 'd!t!', lt: 'd!t!~' }).all();
      expect(days.reduce((n, bucket) => n + (bucket as UsageRollup).requests, 0)).toBe(burst.length);
      expect(await rollups.keys({ gte: 'j!', lt: 'j!~' }).all()).toEqual([]);
    } finally {
      await store.close();
    }
    const index = await DuckDBInstance.create(join(dir, 'data', INDEX_FILE), { access_mode: 'READ_ONLY' });
    try {
      const rows = (await (await index.connect()).runAndReadAll('SELECT id FROM records')).getRows().map(([id]) => String(id));
      expect(rows.sort()).toEqual([...burst].sort());
    } finally {
      index.closeSync();
    }
  });

  it('waits for a stream that is still open, lets it complete, then exits', async () => {
    // About ten SSE frames 200 ms apart: the stream outlives the signal by well over a second.
    mock.setDefault({ kind: 'slow', chunkDelayMs: 200 });
    node = await startNodeProcess(mock, dir, { graceSeconds: GRACE_SECONDS });
    const res = await chat(node.url, true);
    expect(res.statusCode).toBe(200);
    const requestId = String(res.headers['x-request-id']);
    const chunks: string[] = [];
    let streamEnded = 0;
    const body = (async () => {
      for await (const chunk of res.body) chunks.push(String(chunk));
      streamEnded = performance.now();
    })();
    await mock.waitForRequests(1);
    await expect.poll(() => chunks.length, { timeout: 30_000 }).toBeGreaterThan(0);
    node.child.kill('SIGTERM');
    await node.waitForLog((l) => l.msg === 'shutdown: stopped accepting requests, draining in-flight ones', 30_000);
    const duringDrain = node.logs.find((l) => l.msg === 'shutdown: stopped accepting requests, draining in-flight ones');
    expect(duringDrain).toMatchObject({ inFlight: 1 });

    const code = await node.exited;
    const exitedAt = performance.now();
    await body;
    expect(code).toBe(0);
    expect(chunks.join('')).toContain('data: [DONE]');
    // The stream ran to its end (a node that did not wait would have cut it), and the node did not wait out the
    // grace period after it.
    expect(streamEnded).toBeGreaterThan(0);
    expect(exitedAt - streamEnded).toBeLessThan((GRACE_SECONDS * 1000) / 3);
    expect((await recordedIds(dir)).has(requestId)).toBe(true);
  });
});
