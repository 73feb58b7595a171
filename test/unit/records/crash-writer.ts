/**
 * Child process for the crash test: writes records to the store in argv[2], waits until `write` says each is on
 * disk, reports their ids on stdout, then stays alive until the parent kills it with SIGKILL (no close, no flush).
 */
import { RecordStore } from '../../../src/records/index.js';
import { Store } from '../../../src/store/index.js';
import { makeRecord } from './make-record.js';

const store = await Store.open(process.argv[2]!);
const records = await RecordStore.open(store, { retentionDays: 0, flushIntervalMs: 20 });
const ids = Array.from({ length: 50 }, (_, i) => `crash_${i}`);
const persisted = await Promise.all(ids.map((id, i) => records.write(makeRecord({ id, time: Date.UTC(2026, 10, 1) + i, project: 'p' }))));
process.stdout.write(`${JSON.stringify({ ids, persisted })}\n`);
setInterval(() => {}, 1_000);
