import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * POST /v1/query and POST /v1/ask on a real node: records of real requests (through the mock upstream) queried with
 * SQL, the query path's limits (rows, time, one read-only statement over the known tables), and questions turned
 * into SQL by a model that the mock upstream plays, asked through the node's own pipeline.
 */
let mock: MockUpstream;
let node: TestGateway;
let adminKey: string;

const ASK_MODEL = 'gpt-4o-mini';
const MAX_ROWS = 5;

beforeAll(async () => {
  mock = await startMockUpstream();
  node = await startTestGateway([mockProviders(mock).openai], { analytics: { model: ASK_MODEL, max_rows: MAX_ROWS, timeout_ms: 2_000 } });
  adminKey = node.gateway.access.adminKey.secret.reveal();
  await node.gateway.analytics.ready();
  for (const [model, project] of [['gpt-4o', 'alpha'], ['gpt-4o', 'beta'], ['gpt-4o-mini', 'alpha']]) {
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-project': project! },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(res.status).toBe(200);
  }
  await node.waitForOutcomes(3);
}, 60_000);

afterAll(async () => {
  await node?.close();
  await mock?.close();
});

/** `key: ''` sends no credential. */
async function post(path: string, body: unknown, key = adminKey): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${node.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const query = (sql: string, params?: unknown) => post('/v1/query', params === undefined ? { sql } : { sql, params });

describe('POST /v1/query', () => {
  it('answers SQL over the records of the requests served, in the documented shape', async () => {
    const res = await query('SELECT model, count(*) AS requests, sum(prompt_tokens) > 0 AS counted FROM records WHERE source IS NULL GROUP BY model ORDER BY model');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ columns: ['model', 'requests', 'counted'], rows: [['gpt-4o', 2, 1], ['gpt-4o-mini', 1, 1]], row_count: 2, truncated: false });
    expect(res.body.elapsed_ms).toEqual(expect.any(Number));
  });

  it('has each request\'s attempts in their own table', async () => {
    const res = await query("SELECT r.model, a.n, a.target, a.ok FROM records r JOIN attempts a ON a.record_id = r.id WHERE r.project = 'beta'");
    expect(res.body.rows).toEqual([['gpt-4o', 1, 'openai', 1]]);
  });

  it('binds parameters, positional and named, never splicing them into the SQL', async () => {
    const positional = await query('SELECT count(*) FROM records WHERE project = ? AND model = ?', ['alpha', 'gpt-4o']);
    expect(positional.body.rows).toEqual([[1]]);
    const named = await query('SELECT count(*) FROM records WHERE project = :project', { project: "alpha' OR 1=1 --" });
    expect(named.body.rows).toEqual([[0]]);
  });

  it('cuts the answer at max_rows and says so', async () => {
    const res = await query('WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ row_count: MAX_ROWS, truncated: true });
    expect(res.body.rows).toEqual([[1], [2], [3], [4], [5]]);
  });

  it('stops a query over the time limit, then answers the next one', async () => {
    const slow = await query('WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n');
    expect(slow.status).toBe(504);
    expect(slow.body.error.code).toBe('query_timeout');
    const next = await query('SELECT count(*) FROM records WHERE source IS NULL');
    expect(next.status).toBe(200);
    expect(next.body.rows).toEqual([[3]]);
  }, 20_000);

  it.each([
    ['several statements', 'SELECT 1; SELECT 2', /One statement per query/],
    ['a write', 'DELETE FROM records', /DELETE is not allowed/],
    ['a write behind WITH', 'WITH x AS (SELECT 1) DELETE FROM records', /DELETE .*not allowed/],
    ['PRAGMA', 'PRAGMA table_info(records)', /PRAGMA is not allowed/],
    ['ATTACH', "ATTACH DATABASE '/tmp/other.db' AS other", /ATTACH is not allowed/],
    ['SQLite\'s own tables', 'SELECT * FROM sqlite_master', /sqlite_master is not allowed/],
  ])('refuses %s (sql_not_allowed)', async (_name, sql, reason) => {
    const res = await query(sql);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'sql_not_allowed', type: 'invalid_request_error' });
    expect(res.body.error.message).toMatch(reason);
  });

  it('lets a ; inside a string or comment be, and names an unknown table', async () => {
    expect((await query("SELECT ';' AS s -- ; trailing comment")).body.rows).toEqual([[';']]);
    const unknown = await query('SELECT * FROM users');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('invalid_sql');
    expect(unknown.body.error.message).toMatch(/Unknown table users; the tables are records, attempts, findings, receipts/);
  });

  it('is an operator route: the admin key is required', async () => {
    const res = await post('/v1/query', { sql: 'SELECT 1' }, '');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('missing_admin_key');
  });

  it('validates the body', async () => {
    const res = await post('/v1/query', { sql: 'SELECT 1', extra: true });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });
});

describe('POST /v1/ask', () => {
  const answer = (sql: string, summary = 'Requests per model.') => mock.enqueue({ kind: 'text', text: JSON.stringify({ sql, summary }) });

  it('asks the configured model through the pipeline for SQL, runs it, and returns the SQL, rows and summary', async () => {
    const before = mock.requests.length;
    const outcomes = node.outcomes.length;
    answer("SELECT model, count(*) AS requests FROM records WHERE source IS NULL GROUP BY model ORDER BY requests DESC");
    const res = await post('/v1/ask', { question: 'How many requests per model?' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      question: 'How many requests per model?',
      sql: 'SELECT model, count(*) AS requests FROM records WHERE source IS NULL GROUP BY model ORDER BY requests DESC',
      columns: ['model', 'requests'],
      rows: [['gpt-4o', 2], ['gpt-4o-mini', 1]],
      row_count: 2,
      truncated: false,
      summary: 'Requests per model.',
      model: ASK_MODEL,
    });
    // The model got the schema and the question, through the node's own provider.
    const sent = mock.requests.slice(before).find((r) => r.path === '/v1/chat/completions')!;
    expect(sent.body.model).toBe(ASK_MODEL);
    expect(sent.body.messages[0].content).toContain('CREATE TABLE records');
    expect(sent.body.messages[1].content).toBe('How many requests per model?');
    // And the call is recorded like any request, with source analytics.
    const [outcome] = (await node.waitForOutcomes(outcomes + 1)).slice(outcomes);
    expect(outcome).toMatchObject({ source: 'analytics', principal: { kind: 'admin', id: 'analytics' }, requestedModel: ASK_MODEL, status: 200 });
    const recorded = await query("SELECT count(*) FROM records WHERE source = 'analytics'");
    expect(recorded.body.rows[0][0]).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['invalid SQL', 'SELEC model FRM records', 'invalid_sql', /does not compile/],
    ['a write attempt', 'DELETE FROM records', 'sql_not_allowed', /DELETE is not allowed/],
    ['a query over an unknown table', 'SELECT name FROM customers', 'invalid_sql', /Unknown table customers/],
    ['several statements', 'SELECT 1; DROP TABLE records', 'sql_not_allowed', /One statement per query/],
  ])('answers 422 with the model\'s SQL and the reason for %s', async (_name, sql, reasonCode, reason) => {
    answer(sql);
    const res = await post('/v1/ask', { question: 'Anything at all?' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('sql_rejected');
    expect(res.body.error.details).toMatchObject({ sql, reason_code: reasonCode });
    expect(res.body.error.details.reason).toMatch(reason);
    // Nothing was written: the records are all still there.
    expect((await query('SELECT count(*) >= 3 FROM records')).body.rows).toEqual([[1]]);
  });

  it('answers 422 when the model writes no SQL at all', async () => {
    mock.enqueue({ kind: 'text', text: 'I am not sure what you mean.' });
    const res = await post('/v1/ask', { question: 'What is the meaning of life?' });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toMatchObject({ sql: 'I am not sure what you mean.', reason_code: 'no_sql' });
  });

  it('reads SQL from a fenced block when the model ignores the JSON format', async () => {
    mock.enqueue({ kind: 'text', text: 'Here are the projects.\n```sql\nSELECT DISTINCT project FROM records WHERE project IS NOT NULL ORDER BY project\n```' });
    const res = await post('/v1/ask', { question: 'Which projects are there?' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ rows: [['alpha'], ['beta']], summary: 'Here are the projects.' });
  });
});

describe('POST /v1/ask without [analytics] model', () => {
  let bare: TestGateway;
  beforeAll(async () => {
    bare = await startTestGateway([mockProviders(mock).openai]);
  });
  afterAll(async () => bare?.close());

  it('answers 409 analytics_not_configured, naming the config key', async () => {
    const res = await fetch(`${bare.url}/v1/ask`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bare.gateway.access.adminKey.secret.reveal()}` },
      body: JSON.stringify({ question: 'How many requests today?' }),
    });
    expect(res.status).toBe(409);
    const body = await res.json() as { error: { code: string; message: string } };
    expect(body.error.code).toBe('analytics_not_configured');
    expect(body.error.message).toContain('[analytics] model');
  });
});

describe('the SQL index at start', () => {
  it('is rebuilt from the records in LevelDB when a node starts on an existing data dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-index-restart-'));
    const config = parseConfig({ server: { host: '127.0.0.1', port: 0 }, storage: { dir }, providers: [mockProviders(mock).openai] }, 'test', {});
    const start = () => Gateway.start(config, { logger: pino({ level: 'silent' }) });
    try {
      const first = await start();
      for (const project of ['one', 'two']) {
        await fetch(`${first.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-project': project },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
        });
      }
      await first.close();

      const second = await start();
      try {
        await second.analytics.ready();
        const res = await fetch(`${second.url}/v1/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${second.access.adminKey.secret.reveal()}` },
          body: JSON.stringify({ sql: 'SELECT project FROM records ORDER BY time' }),
        });
        expect(await res.json()).toMatchObject({ rows: [['one'], ['two']], row_count: 2 });
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('[analytics] provider', () => {
  let pinned: TestGateway;
  beforeAll(async () => {
    const providers = mockProviders(mock);
    pinned = await startTestGateway([providers.openai, { ...providers.openai, id: 'second', models: ['gpt-4o-mini'] }], { analytics: { model: 'gpt-4o-mini', provider: 'second' } });
    await pinned.gateway.analytics.ready();
  });
  afterAll(async () => pinned?.close());

  it('sends the question to that provider', async () => {
    mock.enqueue({ kind: 'text', text: '{"sql": "SELECT 1 AS one", "summary": "One."}' });
    const waited = pinned.outcomes.length;
    const res = await fetch(`${pinned.url}/v1/ask`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${pinned.gateway.access.adminKey.secret.reveal()}` },
      body: JSON.stringify({ question: 'One?' }),
    });
    expect(res.status).toBe(200);
    const [outcome] = (await pinned.waitForOutcomes(waited + 1)).slice(waited);
    expect(outcome).toMatchObject({ provider: 'second', source: 'analytics' });
  });
});
