import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/core/index.js';
import { virtualKeyStatus } from '../../../src/auth/token-status.js';
import { QuotaStore } from '../../../src/policy/index.js';
import { Store } from '../../../src/store/index.js';

describe('virtualKeyStatus', () => {
  it('shows the key\'s limits and the usage counted under its quota scope, never the key or provider keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-vk-'));
    const store = await Store.open(dir);
    try {
      const quotas = await QuotaStore.forStore(store);
      const vk = {
        id: 'vk_0123456789ab', label: 'team-a', key: new Secret('team-a-client-key-000'),
        providerKeys: new Map([['openai', new Secret('sk-team-a-provider')]]),
        rules: { requests: { limit: 10, period: 'day' as const }, cost: { limit: 5, currency: 'USD' as const, period: 'month' as const } },
      };
      const held = await quotas.reserve([{ scope: 'key:vk_0123456789ab', metric: 'requests', limit: 10, period: 'day', amount: 1 }]);
      await held.settle({ requests: 1 });
      const status = await virtualKeyStatus(vk, quotas);
      expect(status).toMatchObject({
        id: 'vk_0123456789ab', label: 'team-a', providers: ['openai'],
        usage: { requests: { limit: 10, used: 1, remaining: 9, period: 'day' }, cost: { limit: 5, used: 0, remaining: 5, period: 'month' } },
      });
      expect(JSON.stringify(status)).not.toMatch(/team-a-client-key|sk-team-a-provider/);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
