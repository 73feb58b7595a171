import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdminKey, mintAccessToken, type AccessControl, type Principal } from '../../../src/auth/index.js';
import { Federation, federationConfigSchema, ReservationServer, signGatewayRecord, type FederationAttachment, type FederationMesh, type SettledReservation } from '../../../src/federation/index.js';
import { CreditReservations, signingKeyFromRaw } from '../../../src/ledger/index.js';
import type { NodeRecord } from '../../../src/mesh/index.js';
import { bearer, failure, fixtureCloser } from '../auth/access-control-fixture.js';

/**
 * Reservations at the issuer, end to end without libp2p: gateway X's access control and its reservation server, and
 * a node of Y whose access control takes X's tokens through Federation; the mesh between them is an in-process
 * message call (the libp2p transport itself is covered by test/mesh/federation.test.ts).
 */
const { fixture } = fixtureCloser(afterEach);
const logger = pino({ level: 'silent' });

async function peer() {
  const key = await generateKeyPair('Ed25519');
  return { id: peerIdFromPrivateKey(key).toString(), signingKey: signingKeyFromRaw(key.raw) };
}

/** A node record as the directory reads it: only the fields it uses matter. */
const recordOf = (peerId: string, gateway?: string): NodeRecord => ({
  v: 1, peerId, addrs: [], models: [], capacity: { maxConcurrent: 1, inFlight: 0 }, version: 'test', seq: 1, issuedAt: Date.now(), expiresAt: Date.now() + 60_000,
  ...(gateway ? { gateway } : {}),
});

interface Pair {
  x: AccessControl;
  xKey: AdminKey;
  y: AccessControl;
  settled: SettledReservation[];
  /** Makes X unreachable (every message to it fails as a dial would). */
  cut(): void;
  xFederation: Federation;
}

async function pair(options: { federation?: Record<string, unknown>; ttlSeconds?: number; records?: (xPeer: string, xKey: AdminKey) => NodeRecord[]; admitCredit?: FederationAttachment['admitCredit']; issuer?: Record<string, unknown> } = {}): Promise<Pair> {
  const settled: SettledReservation[] = [];
  const xPeer = await peer();
  const yPeer = await peer();
  const xFederation = new Federation({ config: federationConfigSchema.parse({ reservation_ttl_seconds: options.ttlSeconds ?? 900, ...options.issuer }), clockSkewSeconds: 30, logger, onSettled: (s) => settled.push(s) });
  const { ac: x } = await fixture({ mode: 'token' }, { federation: xFederation.accessHooks });
  const xKey = x.adminKey;
  let handler: ((message: unknown, peerId: string) => Promise<unknown>) | undefined;
  let admit: ((peerId: string) => string | undefined) | undefined;
  let reachable = true;
  const xMesh: FederationMesh = {
    peerId: xPeer.id, peerRecords: () => [], isConnected: () => true, sendMessage: async () => undefined,
    handleMessages: async (_protocol, h, a) => void ((handler = h), (admit = a)),
  };
  await xFederation.attach({ mesh: xMesh, signingKey: xPeer.signingKey, adminKey: xKey, access: { resolve: (c) => x.authenticator.resolve(c), quotas: x.quotas } });

  const yFederation = new Federation({ config: federationConfigSchema.parse({ trusted_gateways: [xKey.gatewayId], ...options.federation }), clockSkewSeconds: 30, logger });
  const { ac: y } = await fixture({ mode: 'token' }, { federation: yFederation.accessHooks });
  const records = options.records?.(xPeer.id, xKey) ?? [recordOf(xPeer.id, signGatewayRecord(xKey, xPeer.id, Date.now()))];
  const yMesh: FederationMesh = {
    peerId: yPeer.id, peerRecords: () => records, isConnected: () => true,
    sendMessage: async (peerId, _protocol, message) => {
      if (!reachable || peerId !== xPeer.id) throw new Error('dial failed');
      // As the mesh node does: the admission first (refused unread), then the handler, JSON both ways.
      const refusal = admit?.(yPeer.id);
      if (refusal) return { ok: false, error: refusal };
      return JSON.parse(JSON.stringify(await handler!(JSON.parse(JSON.stringify(message)), yPeer.id)));
    },
    handleMessages: async () => undefined,
  };
  await yFederation.attach({ mesh: yMesh, signingKey: yPeer.signingKey, adminKey: y.adminKey, access: { resolve: (c) => y.authenticator.resolve(c), quotas: y.quotas }, admitCredit: options.admitCredit });
  return { x, xKey, y, settled, cut: () => void (reachable = false), xFederation };
}

const at = (ac: AccessControl, token: string): Promise<Principal> => ac.authenticator.authenticate({ headers: bearer(token) });

describe('a token of gateway X at a node of Y', () => {
  it('is verified offline, named as X\'s, and counted at X only: X\'s own clients and Y\'s share one limit', async () => {
    const { x, xKey, y } = await pair();
    const { token } = await mintAccessToken(xKey, { jti: 'shared-limit', requests: { limit: 2, period: 'hour' } });
    const principal = await at(y, token);
    expect(principal).toMatchObject({ kind: 'token', id: `${xKey.gatewayId}.shared-limit`, issuer: xKey.gatewayId });
    const atY = await y.quotas.reserve(principal, { requestId: 'r1', estimatedTokens: 10 });
    expect(atY.headers['x-ratelimit-remaining-requests']).toBe('1');
    await x.quotas.reserve(await at(x, token), { requestId: 'r2', estimatedTokens: 10 });
    const refused = await failure(y.quotas.reserve(principal, { requestId: 'r3', estimatedTokens: 10 }));
    expect(refused).toMatchObject({ status: 429, code: 'requests_limit_exceeded' });
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('refuses a token of a gateway Y does not trust (401) and one whose issuer has no known node (503, Retry-After)', async () => {
    const { y } = await pair({ records: () => [] });
    const stranger = await mintAccessToken(AdminKey.generate(), {});
    expect(await failure(at(y, stranger.token))).toMatchObject({ status: 401, code: 'token_untrusted_gateway' });
    const { xKey, y: y2 } = await pair({ records: () => [] });
    const unknown = await failure(at(y2, (await mintAccessToken(xKey, {})).token));
    expect(unknown).toMatchObject({ status: 503, code: 'issuer_unavailable' });
    expect(unknown.headers['retry-after']).toBe('5');
  });

  it('ignores gateway records that do not verify, and records naming another key than the pinned one', async () => {
    const other = AdminKey.generate();
    const { y, xKey } = await pair({
      // X's record carried by a node it does not name, and a record of another gateway: neither makes X known.
      records: (xPeer, key) => [recordOf('12D3KooWKA8RcGS8wdCKGrWr9H7mq3FfqexhpgzkrBe4GmMmTxPL', signGatewayRecord(key, xPeer, Date.now())), recordOf(xPeer, signGatewayRecord(other, xPeer, Date.now()))],
    });
    expect(await failure(at(y, (await mintAccessToken(xKey, {})).token))).toMatchObject({ code: 'issuer_unavailable' });
    // Pinned: the key is known offline; the token verifies without any record, and is held to that key.
    const pinned = await pair({ records: () => [], federation: {} });
    const yPinned = await fixture({ mode: 'token' }, {
      federation: new Federation({ config: federationConfigSchema.parse({ trusted_gateways: [pinned.xKey.publicKeyText] }), clockSkewSeconds: 30, logger }).accessHooks,
    });
    const principal = await at(yPinned.ac, (await mintAccessToken(pinned.xKey, { jti: 'pinned-token' })).token);
    expect(principal).toMatchObject({ issuer: pinned.xKey.gatewayId });
    expect(await failure(at(yPinned.ac, (await mintAccessToken(other, {})).token))).toMatchObject({ code: 'token_untrusted_gateway' });
  });

  it('is refused at Y as soon as X revokes it: the reservation is refused at X', async () => {
    const { x, xKey, y } = await pair();
    const { token } = await mintAccessToken(xKey, { jti: 'to-revoke', expiresIn: 600_000 });
    const principal = await at(y, token);
    await (await y.quotas.reserve(principal, { requestId: 'before', estimatedTokens: 1 })).settle({});
    await x.tokens.revoke('to-revoke');
    expect(await failure(y.quotas.reserve(principal, { requestId: 'after', estimatedTokens: 1 }))).toMatchObject({ status: 401, code: 'token_revoked' });
  });

  it('settles real usage above the reservation at the reservation (the issuer never counts more than it agreed to)', async () => {
    const { xKey, y, settled } = await pair();
    const { token } = await mintAccessToken(xKey, { jti: 'clamped-token', tokens: { limit: 1_000, period: 'hour' } });
    const held = await y.quotas.reserve(await at(y, token), { requestId: 'big', estimatedTokens: 100, estimatedCostMicros: 50 });
    await held.settle({ tokens: 400, costMicros: 90, served: { model: 'gpt-4o', input: 150, output: 250, cached: 0, status: 200 } });
    await vi.waitFor(() => expect(settled).toHaveLength(1));
    expect(settled[0]).toMatchObject({ end: 'settled', servedBy: expect.any(String), usage: { input: 100, output: 0 }, costMicros: 50, model: 'gpt-4o' });
    // What X counts: 100 of 1000 tokens used, whatever Y spent beyond the reservation.
    const next = await y.quotas.reserve(await at(y, token), { requestId: 'next', estimatedTokens: 900 });
    expect(next.headers['x-ratelimit-remaining-tokens']).toBe('0');
  });

  it('answers 503 issuer_unavailable when X cannot be reached, or admits the offline budget and then refuses', async () => {
    const closed = await pair();
    const { token } = await mintAccessToken(closed.xKey, { jti: 'unreachable' });
    closed.cut();
    const err = await failure(closed.y.quotas.reserve(await at(closed.y, token), { requestId: 'r', estimatedTokens: 1 }));
    expect(err).toMatchObject({ status: 503, code: 'issuer_unavailable' });
    expect(err.headers['retry-after']).toBe('5');

    const budget = await pair({ federation: { offline_budget: 2 } });
    const offline = await mintAccessToken(budget.xKey, { jti: 'offline-token' });
    budget.cut();
    const principal = await at(budget.y, offline.token);
    await budget.y.quotas.reserve(principal, { requestId: 'o1', estimatedTokens: 1 });
    await budget.y.quotas.reserve(principal, { requestId: 'o2', estimatedTokens: 1 });
    expect(await failure(budget.y.quotas.reserve(principal, { requestId: 'o3', estimatedTokens: 1 }))).toMatchObject({ code: 'issuer_unavailable' });
  });

  it('refuses with 402 when the issuing node owes Y more than its credit limit, and gives the reservation back at X', async () => {
    const owed = new CreditReservations(async () => 2_000_000, 1_000_000);
    const { xKey, y, xFederation, settled } = await pair({ admitCredit: (peer, micros) => owed.admit(peer, micros) });
    const { token } = await mintAccessToken(xKey, { jti: 'over-credit', requests: { limit: 1, period: 'hour' } });
    const principal = await at(y, token);
    expect(await failure(y.quotas.reserve(principal, { requestId: 'c1', estimatedTokens: 1 }))).toMatchObject({ status: 402, code: 'credit_limit_exceeded' });
    expect(xFederation.openReservations).toBe(0);
    expect(settled).toMatchObject([{ end: 'released' }]);
  });

  it('counts a per-IP quota at X by the client address Y saw', async () => {
    const { xKey, y } = await pair();
    const { token } = await mintAccessToken(xKey, { jti: 'per-ip-token', ipQuota: { limit: 1, period: 'hour' } });
    const principal = await at(y, token);
    await y.quotas.reserve(principal, { requestId: 'ip1', ip: '203.0.113.7', estimatedTokens: 1 });
    expect(await failure(y.quotas.reserve(principal, { requestId: 'ip2', ip: '203.0.113.7', estimatedTokens: 1 }))).toMatchObject({ status: 429, code: 'ip_limit_exceeded' });
    await y.quotas.reserve(principal, { requestId: 'ip3', ip: '198.51.100.9', estimatedTokens: 1 });
  });

  it('refuses reservation messages above the issuer\'s per-peer rate unread: 503 at Y, not an answer about the token', async () => {
    const { xKey, y } = await pair({ issuer: { reserve_messages_per_second: 0.1 } });
    const { token } = await mintAccessToken(xKey, { jti: 'rate-limited' });
    const principal = await at(y, token);
    await y.quotas.reserve(principal, { requestId: 'first', estimatedTokens: 1 });
    expect(await failure(y.quotas.reserve(principal, { requestId: 'second', estimatedTokens: 1 }))).toMatchObject({ status: 503, code: 'issuer_unavailable' });
  });

  it('holds one reservation per request id of a serving peer, even when two reserves race', async () => {
    const { ac: x } = await fixture({ mode: 'token' });
    const issuer = await peer();
    const server = new ReservationServer({ selfId: issuer.id, gatewayId: x.adminKey.gatewayId, signingKey: issuer.signingKey, resolve: (c) => x.authenticator.resolve(c), quotas: x.quotas, ttlMs: 60_000, logger });
    const { token } = await mintAccessToken(x.adminKey, { jti: 'raced-token', requests: { limit: 10, period: 'hour' } });
    const message = { type: 'reserve', token, rid: 'same-id', tokens: 10, cost: 0, priced: true };
    const answers = (await Promise.all([server.handle(message, 'serving-peer'), server.handle(message, 'serving-peer')])) as Array<{ ok: boolean; code?: string }>;
    expect(answers.filter((a) => a.ok)).toHaveLength(1);
    expect(answers.find((a) => !a.ok)).toMatchObject({ code: 'reservation_exists' });
    expect(server.open).toBe(1);
    // The refused one reserved nothing: 9 of 10 requests remain.
    const next = (await server.handle({ ...message, rid: 'other-id' }, 'serving-peer')) as { headers: Record<string, string> };
    expect(next.headers['x-ratelimit-remaining-requests']).toBe('8');
    server.close();
    // Closed: a reserve is refused without a code (the serving node then asks another node of the gateway).
    expect(await server.handle({ ...message, rid: 'late-id' }, 'serving-peer')).toEqual({ ok: false, error: 'this node is shutting down' });
  });

  it('gives back a reservation the serving peer cancelled, also one still being made when the cancel arrived', async () => {
    const { ac: x } = await fixture({ mode: 'token' });
    const issuer = await peer();
    let gate: (() => void) | undefined;
    const slowResolve = async (credential: string) => {
      if (gate === undefined) await new Promise<void>((resolve) => (gate = resolve));
      return x.authenticator.resolve(credential);
    };
    const settled: SettledReservation[] = [];
    const server = new ReservationServer({
      selfId: issuer.id, gatewayId: x.adminKey.gatewayId, signingKey: issuer.signingKey, resolve: slowResolve, quotas: x.quotas, ttlMs: 60_000, logger, onSettled: (s) => settled.push(s),
    });
    const { token } = await mintAccessToken(x.adminKey, { jti: 'cancelled-token', requests: { limit: 10, period: 'hour' } });
    const message = { type: 'reserve', token, rid: 'lost-answer', tokens: 10, cost: 0, priced: true };
    // The reserve is still resolving the token when the cancel arrives; it completes, and is given back at once.
    const pending = server.handle(message, 'serving-peer');
    await vi.waitFor(() => expect(gate).toBeDefined());
    expect(await server.handle({ type: 'cancel', rid: 'lost-answer' }, 'serving-peer')).toEqual({ ok: true });
    gate!();
    expect(await pending).toMatchObject({ ok: true });
    expect(server.open).toBe(0);
    // Held, then cancelled; a cancel by another peer, or for nothing, changes nothing.
    await server.handle({ ...message, rid: 'held-one' }, 'serving-peer');
    expect(await server.handle({ type: 'cancel', rid: 'held-one' }, 'another-peer')).toEqual({ ok: true });
    expect(server.open).toBe(1);
    await server.handle({ type: 'cancel', rid: 'held-one' }, 'serving-peer');
    expect(server.open).toBe(0);
    expect(settled.map((s) => s.end)).toEqual(['released', 'released']);
    const next = (await server.handle({ ...message, rid: 'after' }, 'serving-peer')) as { headers: Record<string, string> };
    expect(next.headers['x-ratelimit-remaining-requests']).toBe('9');
    server.close();
  });

  it('charges an unsettled reservation at its reserved amounts when it expires', async () => {
    const { xKey, y, settled, xFederation } = await pair({ ttlSeconds: 5 });
    // The same token afterwards: minted again, its iat could differ by a second and make it another token, same jti.
    const { token } = await mintAccessToken(xKey, { jti: 'expiring-token', tokens: { limit: 1_000, period: 'hour' } });
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      await y.quotas.reserve(await at(y, token), { requestId: 'lost', estimatedTokens: 300 });
      expect(xFederation.openReservations).toBe(1);
      await vi.advanceTimersByTimeAsync(5_000);
      // The charge's counter write waits for the next reservation's, at most 50 ms (QuotaStore's LAZY_WRITE_MS).
      await vi.advanceTimersByTimeAsync(50);
    } finally {
      vi.useRealTimers();
    }
    expect(xFederation.openReservations).toBe(0);
    // Charged once the counters are written (real I/O): awaited, bounded.
    await vi.waitFor(() => expect(settled).toMatchObject([{ end: 'expired', usage: { output: 300 } }]));
    const after = await y.quotas.reserve(await at(y, token), { requestId: 'after', estimatedTokens: 1 });
    expect(after.headers['x-ratelimit-remaining-tokens']).toBe('699');
  });
});

describe('[federation] config', () => {
  it('needs the mesh for trusted gateways, and takes gateway ids or pinned public keys only', async () => {
    const { parseConfig } = await import('../../../src/config/index.js');
    expect(() => parseConfig({ federation: { trusted_gateways: ['0123456789abcdef'] } }, 'x.toml')).toThrow(/federation\.trusted_gateways: needs mesh\.enabled = true/);
    expect(parseConfig({ mesh: { enabled: true }, federation: { trusted_gateways: ['0123456789abcdef', AdminKey.generate().publicKeyText] } }, 'x.toml').federation.trusted_gateways).toHaveLength(2);
    expect(() => parseConfig({ mesh: { enabled: true }, federation: { trusted_gateways: ['mg-0123456789abcdef'] } }, 'x.toml')).toThrow(/federation\.trusted_gateways\[0\]: must be a gateway id/);
    // With Redis, the issuer's reservations end a second before the backend's own would (an expiry charges through it).
    const fed = (shared?: number) => new Federation({ config: federationConfigSchema.parse({}), clockSkewSeconds: 30, logger, ...(shared ? { sharedReservationTtlSeconds: shared } : {}) });
    expect(fed().reservationTtlMs).toBe(600_000);
    expect(fed(300).reservationTtlMs).toBe(299_000);
    expect(fed(900).reservationTtlMs).toBe(600_000);
    expect(fed(1).reservationTtlMs).toBe(500);
  });
});
