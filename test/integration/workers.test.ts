import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { PROCESS_TEST_TIMEOUT_MS, recordedIds, startNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { parsePrometheusText } from '../helpers/prometheus.js';
import { AdminKey } from '../../src/auth/index.js';
import { generateGatewayToken } from '../../src/index.js';

/**
 * `server.workers = 2` on a real `meshgate start`: one primary that owns LevelDB, the mesh and the operator API, two
 * workers serving the pipeline on the shared port. Every request here uses a connection of its own, so the cluster's
 * round-robin spreads them over both workers; the logs (each worker's lines carry its `worker` id) show that it did.
 */
const GRACE_SECONDS = 30;

let mock: MockUpstream;
/**
 * A mesh peer (in this process) that serves the one model the node under test does not: `peer-only`. It is also a
 * gateway whose tokens the node trusts (`[federation]`): its admin key is `peerKey`.
 */
let peerUpstream: MockUpstream;
const peerKey = AdminKey.generate();
/** The upstream of the node's second provider (`flaky`, model `flaky-model`), which the circuit-breaker test fails. */
let flakyUpstream: MockUpstream;
let peer: TestGateway;
let dir: string;
let node: NodeProcess;
let adminKey: string;

/** A fresh connection per request (no keep-alive), so consecutive requests land on different workers. */
function once(url: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const dispatcher = new Agent({ pipelining: 0 });
  return request(`${url}${path}`, { method: (init.method ?? 'GET') as 'GET', headers: { connection: 'close', ...init.headers }, body: init.body, dispatcher })
    .finally(() => void dispatcher.close());
}

const chatBody = (stream = false) => JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'one two three four five six' }] });

function chat(url: string, headers: Record<string, string> = {}, stream = false) {
  return once(url, '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: chatBody(stream) });
}

/** The workers that logged serving these request ids. */
function servedBy(ids: string[]): Set<unknown> {
  const wanted = new Set(ids);
  return new Set(node.logs.filter((l) => l.msg === 'request completed' && wanted.has(l.requestId as string)).map((l) => l.worker));
}

/** The sum of a metric's samples with these labels, from a valid Prometheus exposition (the parser checks it). */
function metricSum(text: string, name: string, labels: Record<string, string>): number {
  return parsePrometheusText(text).samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('server.workers = 2', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    mock = await startMockUpstream();
    peerUpstream = await startMockUpstream();
    flakyUpstream = await startMockUpstream();
    peer = await startTestGateway([{ id: 'peer-openai', type: 'openai', base_url: peerUpstream.openaiBaseUrl, api_key: TEST_KEY, models: ['peer-only'], max_retries: 0 }], {
      auth: { mode: ['public', 'token'], admin_key: peerKey.secret.reveal() },
      mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000 },
    });
    dir = await mkdtemp(join(tmpdir(), 'meshgate-workers-'));
    node = await startNodeProcess(mock, dir, {
      graceSeconds: GRACE_SECONDS, workers: 2, mesh: true, meshBootstrap: peer.gateway.mesh!.multiaddrs(), config: ['[auth]', 'mode = ["public", "token"]', '[cache]', 'enabled = true', '[federation]', `trusted_gateways = ["${peerKey.gatewayId}"]`, 'reserve_timeout_ms = 10000',
        // Without panic mode an open circuit refuses outright (panic would still try the only provider of a model).
        '[routing.circuit_breaker]', 'panic = false',
        '[[providers]]', 'id = "flaky"', 'type = "openai"', `base_url = "${flakyUpstream.openaiBaseUrl}"`, 'api_key = "test-key"', 'models = ["flaky-model"]', 'max_retries = 0'],
    });
    adminKey = node.stdout.find((l) => l.startsWith('admin key generated (shown once): '))!.slice('admin key generated (shown once): '.length);
  }, PROCESS_TEST_TIMEOUT_MS);

  afterAll(async () => {
    node.child.kill('SIGKILL');
    await node.exited;
    await peer.close();
    await Promise.all([mock.close(), peerUpstream.close(), flakyUpstream.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => mock.setDefault({ kind: 'ok' }));

  it('starts two workers and the mesh once: one peer id, whichever worker answers', async () => {
    // The log lines (stderr) may trail the stdout line that says the node listens.
    await expect.poll(() => new Set(node.logs.filter((l) => l.msg === 'worker started').map((l) => l.pid)).size, { timeout: 10_000 }).toBe(2);
    expect(node.stdout.filter((l) => l.startsWith('mesh: peer id ')).length).toBe(1);
    const peerIds = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await once(node.url, '/health');
      expect(res.statusCode).toBe(200);
      peerIds.add(((await res.body.json()) as { mesh: { peer_id: string } }).mesh.peer_id);
    }
    expect([...peerIds]).toEqual([node.stdout.find((l) => l.startsWith('mesh: peer id '))!.split(' ')[3]!.replace(/,$/, '')]);
  });

  it('forwards through the primary\'s mesh from either worker: plain and streamed answers from the peer', async () => {
    await expect.poll(async () => {
      const res = await once(node.url, '/v1/models');
      return ((await res.body.json()) as { data: Array<{ id: string }> }).data.some((m) => m.id === 'peer-only');
    }, { timeout: 30_000, interval: 200 }).toBe(true);
    peerUpstream.setDefault({ kind: 'slow', chunkDelayMs: 10 });
    const answers = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
      const stream = i % 2 === 1;
      const res = await once(node.url, '/v1/chat/completions', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'peer-only', stream, messages: [{ role: 'user', content: 'across the mesh' }] }),
      });
      return { status: res.statusCode, stream, servedBy: res.headers['x-meshgate-served-by'], text: await res.body.text(), id: String(res.headers['x-request-id']) };
    }));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.servedBy).toBe(peer.gateway.mesh!.peerId);
      if (answer.stream) expect(answer.text).toContain('data: [DONE]');
      else expect(((JSON.parse(answer.text)) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content.length).toBeGreaterThan(0);
    }
    await expect.poll(() => servedBy(answers.map((a) => a.id)).size, { timeout: 10_000 }).toBe(2);
    peerUpstream.setDefault({ kind: 'ok' });
  });

  it('serves a trusted gateway\'s tokens on every worker, reserved at their issuer: exactly its limit across workers', async () => {
    // Bounded: the node reads the peer's gateway record off the mesh (a probe token of its own, so the limit below is untouched).
    const probe = await generateGatewayToken(peerKey.secret.reveal(), { jti: 'workers-probe', requests: { limit: 1000, period: 'hour' } });
    await expect.poll(async () => {
      const res = await chat(node.url, { authorization: `Bearer ${probe}` });
      await res.body.dump();
      return res.statusCode;
    }, { timeout: 30_000, interval: 250 }).toBe(200);
    const token = await generateGatewayToken(peerKey.secret.reveal(), { jti: 'workers-federated', requests: { limit: 6, period: 'hour' } });
    const answers = await Promise.all(Array.from({ length: 10 }, async () => {
      const res = await chat(node.url, { authorization: `Bearer ${token}` });
      return { status: res.statusCode, remaining: res.headers['x-ratelimit-remaining-requests'], id: String(res.headers['x-request-id']), text: await res.body.text() };
    }));
    expect(answers.filter((a) => a.status !== 200 && a.status !== 429).map((a) => a.text)).toEqual([]);
    const served = answers.filter((a) => a.status === 200);
    expect(served).toHaveLength(6);
    // The issuer counted them (its remaining figures), one request at a time across both workers.
    expect(served.map((a) => Number(a.remaining)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // Both workers took part (which of them the issuer admitted first is up to the race).
    await expect.poll(() => servedBy(answers.map((a) => a.id)).size, { timeout: 10_000 }).toBe(2);
    // A token of a gateway the node does not trust is refused by the worker as before.
    const stranger = await generateGatewayToken(AdminKey.generate().secret.reveal(), { jti: 'stranger' });
    const refused = await chat(node.url, { authorization: `Bearer ${stranger}` });
    expect([refused.statusCode, ((await refused.body.json()) as { error: { code: string } }).error.code]).toEqual([401, 'token_untrusted_gateway']);
  });

  it('shares circuit breakers across workers: failures counted at both open the circuit at both, which then send nothing upstream', async () => {
    flakyUpstream.setDefault({ kind: 'error', status: 500 });
    const flaky = () => once(node.url, '/v1/chat/completions', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'flaky-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    // The default threshold is 5 consecutive failures; over fresh connections they are split between the workers
    // (3 and 2), so neither would open the circuit on its own count.
    const failures = [];
    for (let i = 0; i < 5; i++) failures.push(await flaky());
    expect(failures.map((r) => r.statusCode)).toEqual([502, 502, 502, 502, 502]);
    await Promise.all(failures.map((r) => r.body.dump()));
    // Open in all three processes (the primary's breaker and both workers'; /metrics sums them).
    await expect.poll(async () => {
      const res = await once(node.url, '/metrics');
      return metricSum(await res.body.text(), 'meshgate_circuit_breaker_state', { provider: 'flaky', state: 'open' });
    }, { timeout: 10_000, interval: 100 }).toBe(3);
    const sent = flakyUpstream.requests.length;
    const refused = await Promise.all(Array.from({ length: 4 }, async () => {
      const res = await flaky();
      return [res.statusCode, ((await res.body.json()) as { error: { code: string } }).error.code];
    }));
    expect(refused).toEqual(Array(4).fill([503, 'providers_unavailable']));
    expect(flakyUpstream.requests.length).toBe(sent);
    flakyUpstream.setDefault({ kind: 'ok' });
  });

  it('admits exactly the limit across workers, and a revocation at the primary is refused by every worker', async () => {
    mock.setDefault({ kind: 'ok', delayMs: 50 });
    const minted = await once(node.url, '/v1/admin/tokens', {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({ sub: 'workers test', requests: { limit: 10, period: 'hour' } }),
    });
    expect(minted.statusCode).toBe(201);
    const { token, id } = (await minted.body.json()) as { token: string; id: string };
    const answers = await Promise.all(Array.from({ length: 30 }, async () => {
      const res = await chat(node.url, { authorization: `Bearer ${token}` });
      await res.body.text();
      return { status: res.statusCode, id: String(res.headers['x-request-id']) };
    }));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(20);
    await expect.poll(() => servedBy(answers.map((a) => a.id)).size, { timeout: 10_000 }).toBe(2);

    const revoked = await once(node.url, `/v1/admin/tokens/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${adminKey}` } });
    expect(revoked.statusCode).toBe(200);
    const after = await Promise.all(Array.from({ length: 4 }, async () => {
      const res = await chat(node.url, { authorization: `Bearer ${token}` });
      return { status: res.statusCode, code: ((await res.body.json()) as { error: { code: string } }).error.code, id: String(res.headers['x-request-id']) };
    }));
    expect(after.map((a) => a.code)).toEqual(['token_revoked', 'token_revoked', 'token_revoked', 'token_revoked']);
  });

  it('keeps records whole and /metrics aggregated: every request served by either worker is in both', async () => {
    const before = await once(node.url, '/metrics');
    const counted = metricSum(await before.body.text(), 'meshgate_requests_total', { status_code: '200', model: 'gpt-4o' });
    const ids = await Promise.all(Array.from({ length: 12 }, async () => {
      const res = await chat(node.url);
      await res.body.text();
      expect(res.statusCode).toBe(200);
      return String(res.headers['x-request-id']);
    }));
    await expect.poll(() => servedBy(ids).size, { timeout: 10_000 }).toBe(2);
    // Records reach the primary in batches; each shows up within moments.
    await expect.poll(async () => {
      const res = await once(node.url, '/v1/records?limit=1000', { headers: { authorization: `Bearer ${adminKey}` } });
      const listed = new Set(((await res.body.json()) as { data: Array<{ id: string }> }).data.map((r) => r.id));
      return ids.filter((id) => !listed.has(id));
    }, { timeout: 10_000 }).toEqual([]);
    // Any worker answers /metrics for the whole node: the 12 requests are counted whichever worker served them.
    for (let i = 0; i < 3; i++) {
      const res = await once(node.url, '/metrics');
      expect(metricSum(await res.body.text(), 'meshgate_requests_total', { status_code: '200', model: 'gpt-4o' }) - counted).toBe(12);
    }
  });

  it('refuses config reload and run-time provider changes, which would reach the primary but not its workers', async () => {
    const admin = { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` };
    const reload = await once(node.url, '/v1/admin/reload', { method: 'POST', headers: admin, body: '{}' });
    expect(reload.statusCode).toBe(409);
    const reloadError = ((await reload.body.json()) as { error: { code: string; message: string } }).error;
    expect(reloadError.code).toBe('reload_unavailable');
    expect(reloadError.message).toMatch(/workers.*restart the node/);
    const added = await once(node.url, '/v1/providers', {
      method: 'POST', headers: admin, body: JSON.stringify({ id: 'late', type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-late-provider-123456', models: ['late-model'] }),
    });
    expect(added.statusCode).toBe(409);
    expect(((await added.body.json()) as { error: { code: string } }).error.code).toBe('provider_read_only');
  });

  it('shares one response cache: an answer stored by one worker is a hit at the other', async () => {
    // The cache keeps entries per principal; the public has none, so a token's requests are cached.
    const minted = await once(node.url, '/v1/admin/tokens', {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` }, body: JSON.stringify({ sub: 'cache test' }),
    });
    const { token } = (await minted.body.json()) as { token: string };
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'cache me across workers' }] });
    const ask = async () => {
      const res = await once(node.url, '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-meshgate-cache': 'use', authorization: `Bearer ${token}` }, body });
      expect(res.statusCode).toBe(200);
      return { cache: res.headers['x-meshgate-cache'], id: String(res.headers['x-request-id']), text: await res.body.text() };
    };
    const first = await ask();
    expect(first.cache).toBe('miss');
    // The answer is stored once the response completed: the first hit comes within moments.
    await expect.poll(async () => (await ask()).cache, { timeout: 10_000 }).toBe('hit');
    // Then, one connection each, both workers answer from the one cache.
    const hits: Array<Awaited<ReturnType<typeof ask>>> = [];
    for (let i = 0; i < 6; i++) hits.push(await ask());
    expect(hits.map((h) => h.cache)).toEqual(['hit', 'hit', 'hit', 'hit', 'hit', 'hit']);
    const content = (text: string) => (JSON.parse(text) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
    for (const hit of hits) expect(content(hit.text)).toBe(content(first.text));
    await expect.poll(() => servedBy(hits.map((h) => h.id)).size, { timeout: 10_000 }).toBe(2);
  });

  it('takes a quality signal sent right after an answer from either worker (the primary waits for that record)', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, async () => {
      const res = await chat(node.url);
      await res.body.text();
      const id = String(res.headers['x-request-id']);
      const signal = await once(node.url, '/v1/signals', {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` }, body: JSON.stringify({ request_id: id, signal: 'thumbs_up' }),
      });
      return { id, status: signal.statusCode, body: (await signal.body.json()) as { request_id?: string } };
    }));
    for (const result of results) expect(result).toMatchObject({ status: 201, body: { request_id: result.id } });
    await expect.poll(() => servedBy(results.map((r) => r.id)).size, { timeout: 10_000 }).toBe(2);
  });

  it('restarts a worker that was killed, with a log line, and keeps serving', async () => {
    const started = node.logs.filter((l) => l.msg === 'worker started');
    const victim = started.at(-1)!.pid as number;
    process.kill(victim, 'SIGKILL');
    const restarted = await node.waitForLog((l) => l.msg === 'worker exited unexpectedly; restarting it' && l.pid === victim, 30_000);
    expect(restarted).toMatchObject({ signal: 'SIGKILL' });
    await expect.poll(() => node.logs.filter((l) => l.msg === 'worker started').length, { timeout: 60_000 }).toBe(started.length + 1);
    for (let i = 0; i < 4; i++) {
      const res = await chat(node.url);
      await res.body.text();
      expect(res.statusCode).toBe(200);
    }
  });

  it('SIGTERM drains both workers: open streams on each run to their end, every record is written, exit code 0', async () => {
    // About ten SSE frames 200 ms apart: each stream outlives the signal by well over a second.
    mock.setDefault({ kind: 'slow', chunkDelayMs: 200 });
    const streams = await Promise.all(Array.from({ length: 6 }, async () => {
      const res = await chat(node.url, {}, true);
      expect(res.statusCode).toBe(200);
      const chunks: string[] = [];
      const done = (async () => {
        for await (const chunk of res.body) chunks.push(String(chunk));
      })();
      return { id: String(res.headers['x-request-id']), chunks, done };
    }));
    await mock.waitForRequests(6, 30_000);
    await expect.poll(() => streams.every((s) => s.chunks.length > 0), { timeout: 30_000 }).toBe(true);
    node.child.kill('SIGTERM');
    const code = await node.exited;
    await Promise.all(streams.map((s) => s.done));
    expect(code).toBe(0);
    for (const stream of streams) expect(stream.chunks.join('')).toContain('data: [DONE]');
    const draining = node.logs.filter((l) => l.msg === 'shutdown: stopped accepting requests, draining in-flight ones' && l.worker !== undefined);
    const busy = draining.filter((l) => (l.inFlight as number) > 0).map((l) => l.worker);
    expect(new Set(busy).size).toBe(2);
    expect(node.logs.filter((l) => l.msg?.startsWith('shutdown: worker done')).length).toBe(2);
    const recorded = await recordedIds(dir);
    for (const stream of streams) expect(recorded.has(stream.id), `record of stream ${stream.id}`).toBe(true);
    expect(node.stdout.at(-1)).toBe('meshgate stopped');
  });
});

describe('server.workers = 2, Ctrl-C', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  let group: NodeProcess | undefined;
  let groupDir: string;
  let upstream: MockUpstream;

  afterAll(async () => {
    if (group && group.child.exitCode === null) process.kill(-group.child.pid!, 'SIGKILL');
    await group?.exited;
    await upstream?.close();
    await rm(groupDir, { recursive: true, force: true });
  });

  it('SIGINT to the whole process group (what a terminal sends every process) drains like SIGTERM: streams end, exit code 0', async () => {
    upstream = await startMockUpstream();
    groupDir = await mkdtemp(join(tmpdir(), 'meshgate-workers-int-'));
    group = await startNodeProcess(upstream, groupDir, { graceSeconds: GRACE_SECONDS, workers: 2, ownGroup: true });
    upstream.setDefault({ kind: 'slow', chunkDelayMs: 200 });
    const streams = await Promise.all(Array.from({ length: 4 }, async () => {
      const res = await chat(group!.url, {}, true);
      const chunks: string[] = [];
      const done = (async () => {
        for await (const chunk of res.body) chunks.push(String(chunk));
      })();
      return { chunks, done };
    }));
    await expect.poll(() => streams.every((s) => s.chunks.length > 0), { timeout: 30_000 }).toBe(true);
    // The primary, seeing SIGINT, also sends each worker SIGTERM: a worker must treat the second signal as the same drain.
    process.kill(-group.child.pid!, 'SIGINT');
    const code = await group.exited;
    await Promise.all(streams.map((s) => s.done));
    expect(code).toBe(0);
    for (const stream of streams) expect(stream.chunks.join('')).toContain('data: [DONE]');
    expect(group.logs.filter((l) => l.msg?.startsWith('shutdown: worker done')).length).toBe(2);
  });
});
