import { describe, expect, it } from 'vitest';
import { MemoryCircuitStore } from '../../../src/router/memory-circuit-store.js';

/**
 * The in-memory shared circuits (a node's primary keeps them for its workers) run the state machine of the Redis
 * store's script: test/integration/state/shared-circuits.test.ts drives that one against a real redis-server.
 */
describe('MemoryCircuitStore', () => {
  const quick = { failureThreshold: 2, cooldownMs: 300, maxCooldownMs: 500 };

  it('counts failures from every caller, opens at the threshold, grants one probe once the cool-down is over', async () => {
    let now = 1_000;
    const store = new MemoryCircuitStore(() => now);
    const changed: string[] = [];
    store.onChange((provider) => changed.push(provider));
    expect((await store.apply('p', 'failure', quick)).circuit).toEqual({ state: 'closed', failures: 1, cooldownMs: 300, remainingMs: 0 });
    expect((await store.apply('p', 'failure', quick)).circuit).toEqual({ state: 'open', failures: 2, cooldownMs: 300, remainingMs: 300 });
    // A failure while open came from an attempt admitted before it opened: nothing changes, nothing is announced.
    await store.apply('p', 'failure', quick);
    expect(changed).toEqual(['p', 'p']);
    expect((await store.apply('p', 'probe', quick)).granted).toBe(false);
    now += 300;
    const probes = await Promise.all([store.apply('p', 'probe', quick), store.apply('p', 'probe', quick)]);
    expect(probes.map((p) => p.granted)).toEqual([true, false]);
    expect(probes[0]!.circuit).toMatchObject({ state: 'half_open', remainingMs: 300 });
    // The prober died: once its lease (one cool-down) lapses, another may probe.
    now += 300;
    expect((await store.apply('p', 'probe', quick)).granted).toBe(true);
    // A failed probe re-opens for the doubled cool-down, capped; a success closes and forgets it.
    expect((await store.apply('p', 'failure', quick)).circuit).toEqual({ state: 'open', failures: 2, cooldownMs: 500, remainingMs: 500 });
    expect((await store.apply('p', 'success', quick)).circuit).toEqual({ state: 'closed', failures: 0, cooldownMs: 300, remainingMs: 0 });
    expect(await store.read(['p', 'q'], quick)).toEqual(new Map([['p', { state: 'closed', failures: 0, cooldownMs: 300, remainingMs: 0 }], ['q', { state: 'closed', failures: 0, cooldownMs: 300, remainingMs: 0 }]]));
  });

  it('a probe that ends without a verdict (neutral) lets the next request probe at once', async () => {
    let now = 0;
    const store = new MemoryCircuitStore(() => now);
    const one = { failureThreshold: 1, cooldownMs: 100, maxCooldownMs: 100 };
    await store.apply('p', 'failure', one);
    now += 100;
    expect((await store.apply('p', 'probe', one)).granted).toBe(true);
    expect((await store.apply('p', 'neutral', one)).circuit).toMatchObject({ state: 'open', remainingMs: 0 });
    expect((await store.apply('p', 'probe', one)).granted).toBe(true);
  });
});
