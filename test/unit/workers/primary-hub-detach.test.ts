import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { FederatedPrincipal, IssuerQuota, Reservation } from '../../../src/auth/index.js';
import type { QuotaCounters, QuotaReservation } from '../../../src/policy/index.js';
import type { IpcChannel } from '../../../src/workers/ipc-channel.js';
import { PrimaryHub, type PrimaryParts } from '../../../src/workers/primary-hub.js';

/**
 * A worker that exits while the primary is still making one of its reservations (a Redis round trip, a reservation
 * at another gateway's issuer over the mesh): the reservation that completes after `detach` is released at once, not
 * kept for a request that died with the worker.
 */
describe('PrimaryHub: a worker that exits mid-reservation', () => {
  it('releases the local and the issuer reservation that complete after the worker is gone', async () => {
    const handlers = new Map<string, (args: unknown) => Promise<unknown>>();
    const channel = { handle: (op: string, fn: (args: unknown) => Promise<unknown>) => handlers.set(op, fn), on: () => undefined, emit: () => undefined, close: () => undefined } as unknown as IpcChannel;
    const released: string[] = [];
    let finish!: () => void;
    const slow = new Promise<void>((resolve) => (finish = resolve));
    const counters = {
      reserve: async (): Promise<QuotaReservation> => {
        await slow;
        return { states: [], settle: async () => undefined, release: async () => void released.push('local') };
      },
    } as unknown as QuotaCounters;
    const quota: IssuerQuota = {
      reserve: async (): Promise<Reservation> => {
        await slow;
        return { headers: {}, settle: async () => undefined, release: async () => void released.push('issuer') };
      },
    };
    const principal = { kind: 'token', id: 'x.t', claims: {}, issuer: 'x' } as unknown as FederatedPrincipal;
    const hub = new PrimaryHub({
      counters, tokens: { onChange: () => () => undefined, isRevoked: () => false, list: () => [] } as unknown as PrimaryParts['tokens'],
      writeRecord: async () => true, logger: pino({ level: 'silent' }),
      federation: { resolver: { resolve: async () => principal }, quota },
    });
    hub.attach(1, channel);
    const local = handlers.get('quota.reserve')!({ charges: [], options: {} });
    const issuer = handlers.get('federation.reserve')!({ credential: 'mg-x.token', input: { estimatedTokens: 1 } });
    await hub.detach(1);
    finish();
    // Unpatched, both were filed under the forgotten worker and never released.
    await expect(local).rejects.toThrow(/exited/);
    await expect(issuer).rejects.toThrow(/exited/);
    expect(released.sort()).toEqual(['issuer', 'local']);
  });
});

describe('PrimaryHub: workers\' requests', () => {
  it('tell the primary of each request a worker begins or records (its idle watch sees no request of its own)', async () => {
    const handlers = new Map<string, (args: unknown) => unknown>();
    const listeners = new Map<string, (args: unknown) => void>();
    const channel = {
      handle: (op: string, fn: (args: unknown) => unknown) => handlers.set(op, fn), on: (op: string, fn: (args: unknown) => void) => listeners.set(op, fn),
      emit: () => undefined, close: () => undefined,
    } as unknown as IpcChannel;
    const seen: string[] = [];
    const hub = new PrimaryHub({
      counters: {} as QuotaCounters, tokens: { onChange: () => () => undefined, isRevoked: () => false, list: () => [] } as unknown as PrimaryParts['tokens'],
      writeRecord: async () => true, logger: pino({ level: 'silent' }),
      expectRecord: (id) => seen.push(`expect ${id}`), onWorkerRequest: () => seen.push('request'),
    });
    hub.attach(1, channel);
    listeners.get('records.expect')!('req_1');
    await handlers.get('records.write')!([]);
    expect(seen).toEqual(['request', 'expect req_1', 'request']);
  });
});
