import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordStore } from '../../../src/records/index.js';
import { createSanitizer, sanitizationConfigSchema } from '../../../src/sanitize/index.js';
import { QualitySignalService, SignalStore, signalsConfigSchema } from '../../../src/signals/index.js';
import { Store } from '../../../src/store/index.js';
import { makeRecord } from '../records/make-record.js';

let dir: string;
let store: Store;
let records: RecordStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-signals-'));
  store = await Store.open(dir);
  records = await RecordStore.open(store, { retentionDays: 0, flushIntervalMs: 0 });
});

afterEach(async () => {
  await records.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const open = (recordWritten?: (id: string, timeoutMs: number) => Promise<boolean>, extra: { retentionDays?: number; now?: () => number } = {}) => QualitySignalService.open({
  store: new SignalStore(store), records, sanitizer: createSanitizer(sanitizationConfigSchema.parse({})), config: signalsConfigSchema.parse({ min_weight: 0.5 }), recordWritten, ...extra,
});
const owner = { kind: 'virtual_key' as const, id: 'vk_a' };

describe('QualitySignalService', () => {
  it('waits for the record of a request still finishing, then takes the signal', async () => {
    const service = await open(async (id) => {
      await records.write(makeRecord({ id, time: Date.now(), principal: { kind: 'virtual_key', id: 'vk_a' } }));
      return true;
    });
    const { signal } = await service.submit(owner, { request_id: 'req_late', signal: 'success' });
    expect(signal).toMatchObject({ request_id: 'req_late', score: 1, target: 'openai-main' });
  });

  it('answers the same 404 for an unknown id and for another principal\'s request', async () => {
    await records.write(makeRecord({ id: 'req_theirs', time: Date.now(), principal: { kind: 'virtual_key', id: 'vk_b' } }));
    const service = await open(async () => false);
    const unknown = await service.submit(owner, { request_id: 'req_none', signal: 'failure' }).catch((err: Error) => err);
    const theirs = await service.submit(owner, { request_id: 'req_theirs', signal: 'failure' }).catch((err: Error) => err);
    expect([unknown, theirs].map((err) => [(err as { code?: string }).code, (err as Error).message])).toEqual([
      ['request_not_found', 'No request with this id is known to this credential.'],
      ['request_not_found', 'No request with this id is known to this credential.'],
    ]);
    // The admin may rate anyone's.
    expect((await service.submit({ kind: 'admin', id: 'admin' }, { request_id: 'req_theirs', signal: 'failure' })).signal.by).toEqual({ kind: 'admin', id: 'admin' });
  });

  it('rebuilds the aggregate from the stored signals when it opens again', async () => {
    await records.write(makeRecord({ id: 'req_1', time: Date.now(), principal: { kind: 'virtual_key', id: 'vk_a' } }));
    await (await open()).submit(owner, { request_id: 'req_1', signal: 'thumbs_up', score: 0.75 });
    const reopened = await open();
    expect(reopened.aggregate.scoreOf('openai-main', 'gpt-4o')).toBe(0.75);
  });

  it('removes signals past the records\' retention when it opens', async () => {
    await records.write(makeRecord({ id: 'req_1', time: Date.now(), principal: { kind: 'virtual_key', id: 'vk_a' } }));
    const first = await open();
    await first.submit(owner, { request_id: 'req_1', signal: 'thumbs_up' });
    first.close();
    const later = await open(undefined, { retentionDays: 1, now: () => Date.now() + 2 * 86_400_000 });
    later.close();
    expect(await new SignalStore(store).get('req_1')).toBeUndefined();
  });
});
