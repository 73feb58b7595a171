import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { AdminKey } from '../../src/auth/index.js';
import { RESERVE_PROTOCOL, signReservation, verifyReservation } from '../../src/federation/index.js';
import { generateGatewayToken } from '../../src/index.js';
import { signingKeyFromRaw } from '../../src/ledger/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { describeWithSystemComponent, REDIS_SERVER } from '../helpers/system-component.js';

/**
 * Federated access over real libp2p nodes on loopback: gateway X runs two nodes (one admin key, one Redis for their
 * shared state), organisation Y runs one node that trusts X. Clients of X's tokens talk to any of the three; the
 * token's limits hold across all of them because every admission is a reservation at one of X's nodes.
 */
describeWithSystemComponent(REDIS_SERVER, 'federated access: a token of gateway X at a node of Y', (binary) => {
  let redis: RedisServer;
  let mock: MockUpstream;
  let x1: TestGateway;
  let x2: TestGateway;
  let y: TestGateway;
  const xKey = AdminKey.generate();
  const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, reconcile_interval_seconds: 0, ...extra });

  beforeAll(async () => {
    redis = await startRedisServer(binary);
    mock = await startMockUpstream();
    mock.setDefault({ kind: 'ok' });
    const xNode = (bootstrap: string[]) => startTestGateway([mockProviders(mock).openai], {
      auth: { mode: ['token'], admin_key: xKey.secret.reveal() },
      // Generous: on a loaded machine a Redis round trip slower than timeout_ms is a 503 (correct, but not this test's subject).
      state: { backend: 'redis', url: redis.url, key_prefix: 'gateway-x:', timeout_ms: 5_000 },
      mesh: mesh({ bootstrap }),
    });
    x1 = await xNode([]);
    x2 = await xNode(x1.gateway.mesh!.multiaddrs());
    // Y serves gpt-4o itself; gpt-4o-mini only X's nodes serve (Y forwards it).
    y = await startTestGateway([{ ...mockProviders(mock).openai, models: ['gpt-4o'] }], {
      auth: { mode: ['token'] },
      mesh: mesh({ bootstrap: [...x1.gateway.mesh!.multiaddrs(), ...x2.gateway.mesh!.multiaddrs()] }),
      // A generous timeout: under load a slow answer would send Y to X's other node (correct, but the burst's count then
      // holds one request twice until the cancel lands; see protocol/reservations.md, "Failure").
      federation: { trusted_gateways: [xKey.gatewayId], reserve_timeout_ms: 10_000, retry_after_seconds: 3 },
    });
    // Bounded: Y has learnt both of X's nodes from their gateway records.
    await vi.waitFor(() => expect(y.gateway.federation!.directory.find(xKey.gatewayId)?.nodes.length).toBe(2), { timeout: 15_000, interval: 50 });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([y, x2, x1].map((node) => node?.close()));
    await mock?.close();
    await redis?.close();
  });

  const chat = (node: TestGateway, token: string, model = 'gpt-4o') =>
    fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model, max_tokens: 50, messages: [{ role: 'user', content: 'hello across gateways' }] }),
    });
  const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  it('admits exactly 10 of 50 concurrent requests spread over X1, X2 and Y against a limit of 10', async () => {
    const token = await generateGatewayToken(xKey.secret.reveal(), { jti: 'fed-burst', requests: { limit: 10, period: 'hour' } });
    const nodes = [x1, x2, y];
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(nodes[i % 3]!, token)));
    const statuses = responses.map((r) => r.status);
    const bodies = await Promise.all(responses.map((r) => r.text()));
    // Anything but 200 and 429 is shown with its body (a 503 names the reason).
    expect(bodies.filter((_, i) => statuses[i] !== 200 && statuses[i] !== 429)).toEqual([]);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
  }, 30_000);

  it('serves a token of X at Y with Y\'s providers: served-by names Y, and X records the request as served by Y', async () => {
    const token = await generateGatewayToken(xKey.secret.reveal(), { jti: 'fed-served', requests: { limit: 100, period: 'hour' } });
    const response = await chat(y, token);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-meshgate-served-by')).toBe(y.gateway.mesh!.peerId);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    await response.arrayBuffer();
    // Y's record of it: the token as a principal of gateway X, served by Y's own provider.
    await vi.waitFor(() => expect(y.outcomes.find((o) => o.principal.id === `${xKey.gatewayId}.fed-served`)).toMatchObject({ status: 200, provider: 'openai' }), { timeout: 5_000, interval: 50 });
    // X's record of it: one of X's nodes settled the reservation; served by Y.
    await vi.waitFor(() => {
      const atX = [...x1.outcomes, ...x2.outcomes].filter((o) => o.principal.id === 'fed-served');
      expect(atX).toHaveLength(1);
      expect(atX[0]).toMatchObject({ peer: y.gateway.mesh!.peerId, source: 'federation', status: 200, requestedModel: 'gpt-4o' });
      expect(atX[0]!.usage!.outputTokens).toBeGreaterThan(0);
    }, { timeout: 5_000, interval: 50 });
    // And in /metrics on both sides.
    expect(await (await fetch(`${y.url}/metrics`)).text()).toMatch(/meshgate_federation_reservations_total\{side="serving",outcome="granted"\} [1-9]/);
    const issuing = await Promise.all([x1, x2].map(async (x) => (await fetch(`${x.url}/metrics`)).text()));
    expect(issuing.some((text) => /meshgate_federation_reservations_total\{side="issuing",outcome="settled"\} [1-9]/.test(text))).toBe(true);
  });

  it('pays Y for serving X\'s tokens: Y\'s receipts to X\'s nodes are acknowledged, and both ledgers agree', async () => {
    const token = await generateGatewayToken(xKey.secret.reveal(), { jti: 'fed-paid' });
    for (let i = 0; i < 3; i++) expect((await chat(y, token).then(async (r) => (await r.arrayBuffer(), r.status)))).toBe(200);
    const xPeers = [x1.gateway.mesh!.peerId, x2.gateway.mesh!.peerId];
    await vi.waitFor(async () => {
      const issued = (await y.gateway.ledger!.list()).filter((r) => r.issuer === y.gateway.mesh!.peerId && xPeers.includes(r.subject));
      expect(issued.length).toBeGreaterThanOrEqual(3);
      expect(issued.every((r) => r.ack !== undefined)).toBe(true);
      for (const x of [x1, x2]) expect(await y.gateway.ledger!.unacknowledged(x.gateway.mesh!.peerId)).toBe(0);
    }, { timeout: 10_000, interval: 100 });
    const issued = (await y.gateway.ledger!.list()).filter((r) => xPeers.includes(r.subject));
    const accepted = [...(await x1.gateway.ledger!.list()), ...(await x2.gateway.ledger!.list())].filter((r) => r.issuer === y.gateway.mesh!.peerId);
    expect(accepted.map((r) => r.hash).sort()).toEqual(issued.map((r) => r.hash).sort());
    expect(accepted.every((r) => r.ack !== undefined && r.dispute === undefined)).toBe(true);
  }, 20_000);

  it('reserves once at X when Y forwards the request to a peer: the peer serves Y (its receipt is to Y), Y bills X nothing for it', async () => {
    const token = await generateGatewayToken(xKey.secret.reveal(), { jti: 'fed-forward', requests: { limit: 5, period: 'hour' } });
    const response = await chat(y, token, 'gpt-4o-mini');
    expect(response.status).toBe(200);
    const servedBy = response.headers.get('x-meshgate-served-by');
    expect([x1.gateway.mesh!.peerId, x2.gateway.mesh!.peerId]).toContain(servedBy);
    // Counted once: the reservation at X, not again by the peer that served it (it counts Y as its peer).
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('4');
    const requestId = response.headers.get('x-request-id')!;
    await response.arrayBuffer();
    await vi.waitFor(() => expect([...x1.outcomes, ...x2.outcomes].filter((o) => o.principal.id === 'fed-forward')).toHaveLength(1), { timeout: 5_000, interval: 50 });
    await vi.waitFor(async () => expect((await y.gateway.ledger!.list(servedBy!)).some((r) => r.issuer === servedBy && r.requestId === requestId)).toBe(true), { timeout: 5_000, interval: 50 });
    expect((await y.gateway.ledger!.list()).some((r) => r.issuer === y.gateway.mesh!.peerId && r.requestId === requestId)).toBe(false);
  });

  it('shows the operator of Y which gateways it trusts and the nodes of each it knows (GET /v1/mesh/federation)', async () => {
    const response = await fetch(`${y.url}/v1/mesh/federation`, { headers: { authorization: `Bearer ${y.gateway.access.adminKey.secret.reveal()}` } });
    expect(response.status).toBe(200);
    const status = (await response.json()) as { gateway_id: string; trusted: Array<{ gateway_id: string; nodes: string[] }> };
    expect(status.gateway_id).toBe(y.gateway.access.adminKey.gatewayId);
    expect(status.trusted).toEqual([{ gateway_id: xKey.gatewayId, pinned_key: null, nodes: expect.arrayContaining([x1.gateway.mesh!.peerId, x2.gateway.mesh!.peerId]) }]);
  });

  it('refuses at Y a token of a gateway Y does not trust (401 token_untrusted_gateway)', async () => {
    const token = await generateGatewayToken(AdminKey.generate().secret.reveal(), { jti: 'fed-stranger' });
    const response = await chat(y, token);
    expect(response.status).toBe(401);
    expect(await codeOf(response)).toBe('token_untrusted_gateway');
  });

  it('refuses at Y a token revoked at X on the very next request (revocation reaches Y within one request)', async () => {
    const token = await generateGatewayToken(xKey.secret.reveal(), { jti: 'fed-revoke', expiresIn: 600_000 });
    expect((await chat(y, token).then(async (r) => (await r.arrayBuffer(), r.status)))).toBe(200);
    const revokedAt = Date.now();
    const revoked = await fetch(`${x2.url}/v1/admin/tokens/fed-revoke`, { method: 'DELETE', headers: { authorization: `Bearer ${xKey.secret.reveal()}` } });
    expect(revoked.status).toBe(200);
    // Measured: the first request at Y after the revocation answer is refused; nothing was admitted in between.
    const first = await chat(y, token);
    const measuredMs = Date.now() - revokedAt;
    expect(first.status).toBe(401);
    expect(await codeOf(first)).toBe('token_revoked');
    console.info(`federation: revocation at X took effect at Y for the first request after it, ${measuredMs} ms later`);
  });

  it('refuses forged, replayed, other-token and over-settled reservations at the issuer', async () => {
    const token = await generateGatewayToken(xKey.secret.reveal(), { jti: 'fed-protocol', requests: { limit: 100, period: 'hour' } });
    const issuer = x1.gateway.mesh!.peerId;
    const send = (message: unknown, from: TestGateway = y) => from.gateway.mesh!.sendMessage(issuer, RESERVE_PROTOCOL, message, 5_000) as Promise<{ ok: boolean; code?: string; reservation?: string }>;
    const granted = await send({ type: 'reserve', token, rid: 'protocol-1', model: 'gpt-4o', tokens: 100, cost: 1_000, priced: true });
    expect(granted.ok).toBe(true);
    const reservation = granted.reservation!;
    const payload = verifyReservation(reservation, issuer);
    expect(payload).toMatchObject({ gw: xKey.gatewayId, srv: y.gateway.mesh!.peerId, tid: 'fed-protocol', rid: 'protocol-1', amt: { requests: 1, tokens: 100, cost: 1_000 } });
    const settle = (over: Record<string, unknown> = {}) => ({ type: 'settle', tid: 'fed-protocol', rid: 'protocol-1', reservation, usage: { input: 40, output: 20, cached: 0, cost: 500 }, model: 'gpt-4o', ...over });

    // Forged: the same payload with a larger amount, signed by a key that is not the issuer's.
    const forged = signReservation({ ...payload, amt: { ...payload.amt, tokens: 1_000_000 } }, signingKeyFromRaw(y.gateway.mesh!.privateKeyBytes));
    expect(await send(settle({ reservation: forged, usage: { input: 500_000, output: 0, cached: 0, cost: 0 } }))).toMatchObject({ ok: false, code: 'reservation_forged' });
    // For another token: the reservation of fed-protocol named as another token's.
    expect(await send(settle({ tid: 'fed-other' }))).toMatchObject({ ok: false, code: 'reservation_mismatch' });
    // Presented by another node than the one it was made for.
    expect(await send(settle(), x2)).toMatchObject({ ok: false, code: 'reservation_not_yours' });
    // Above the reservation.
    expect(await send(settle({ usage: { input: 90, output: 20, cached: 0, cost: 500 } }))).toMatchObject({ ok: false, code: 'settle_exceeds_reservation' });
    expect(await send(settle({ usage: { input: 40, output: 20, cached: 0, cost: 1_001 } }))).toMatchObject({ ok: false, code: 'settle_exceeds_reservation' });
    // Settled once; the same settlement again is a replay.
    expect(await send(settle())).toMatchObject({ ok: true });
    expect(await send(settle())).toMatchObject({ ok: false, code: 'reservation_unknown' });
    expect(x1.gateway.federation!.openReservations).toBe(0);
  });

  it('holds the quota when one of X\'s nodes is stopped mid-test, and answers 503 issuer_unavailable once none is reachable', async () => {
    const token = await generateGatewayToken(xKey.secret.reveal(), { jti: 'fed-failover', requests: { limit: 10, period: 'hour' } });
    const firstWave = await Promise.all(Array.from({ length: 12 }, (_, i) => chat([x2, y][i % 2]!, token)));
    await Promise.all(firstWave.map((r) => r.arrayBuffer()));
    const admittedBefore = firstWave.filter((r) => r.status === 200).length;
    await x1.close();
    const secondWave = await Promise.all(Array.from({ length: 12 }, (_, i) => chat([x2, y][i % 2]!, token)));
    await Promise.all(secondWave.map((r) => r.arrayBuffer()));
    const admittedAfter = secondWave.filter((r) => r.status === 200).length;
    expect(admittedBefore + admittedAfter).toBe(10);
    expect(secondWave.filter((r) => r.status !== 200).every((r) => r.status === 429)).toBe(true);

    // Y still reaches X through X2: a fresh token is served.
    const fresh = await generateGatewayToken(xKey.secret.reveal(), { jti: 'fed-after-x1' });
    expect((await chat(y, fresh)).status).toBe(200);
    await x2.close();
    const refused = await chat(y, fresh);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('3');
    expect(await codeOf(refused)).toBe('issuer_unavailable');
  }, 30_000);
});
