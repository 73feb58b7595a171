import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBody, toGatewayError } from '../../../src/errors/index.js';
import { RecordStore, recordsRoutes, usageRecordSchema, type UsageRecord } from '../../../src/records/index.js';
import { Store } from '../../../src/store/index.js';
import { makeRecord, mixedRecords } from './make-record.js';

/** Ten days ago: inside the retention period, outside any `active_since_mins` window below a day. */
const BASE = Date.now() - 10 * 86_400_000;

/** RFC 4180 parser (quoted fields, doubled quotes, CRLF records), written independently of the exporter. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  expect(field).toBe('');
  return rows;
}

let dir: string;
let store: Store;
let records: RecordStore;
let app: FastifyInstance;
const tricky = makeRecord({
  id: 'tricky',
  time: BASE + 10_000,
  client_ip: '2001:db8:0:1::/64',
  country: 'NL',
  project: 'acme, "north"',
  source: '=HYPERLINK("http://x")',
  attempts: [{ target: 'openai-main', ok: false, status: 500, error: 'line one\nline two', duration_ms: 5 }],
  findings: [{ type: 'email', location: 'messages[0].content', action: 'redacted' as const }, { type: 'credit_card', location: 'messages[1].content[0].text', action: 'redacted' as const }],
  cost_micros: 1_234_567,
});
/** A request from a moment ago: the only project active in the last minute. */
const live = makeRecord({ id: 'live', time: Date.now() - 1000, project: 'live' });
const mix = [...mixedRecords(BASE), tricky, live];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-records-routes-'));
  store = await Store.open(dir);
  records = await RecordStore.open(store, { retentionDays: 30, flushIntervalMs: 60_000 });
  for (const record of mix) void records.write(record);
  app = Fastify();
  app.setErrorHandler((err, _request, reply) => {
    const error = toGatewayError(err);
    void reply.code(error.status).send(errorBody('openai', error));
  });
  await app.register(recordsRoutes(records));
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await records.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('records routes', () => {
  it('GET /v1/stats answers totals and breakdowns for a range given as ISO dates', async () => {
    const from = new Date(BASE).toISOString();
    const to = new Date(BASE + 5000).toISOString();
    const response = await app.inject({ method: 'GET', url: `/v1/stats?from=${from}&to=${to}` });
    expect(response.statusCode).toBe(200);
    const stats = response.json();
    expect(stats.totals.requests).toBe(5);
    expect(stats.by.project.map((g: { key: string }) => g.key)).toEqual(['alpha', 'beta', '(none)']);
  });

  it.each([
    ['/v1/stats?from=yesterday', 'from'],
    ['/v1/stats?from=2000&to=1000', 'from'],
    ['/v1/records?limit=0', 'limit'],
    ['/v1/records?status=teapot', 'status'],
    ['/v1/records?modle=gpt-4o', 'modle'],
    ['/v1/records/export?format=xml', 'format'],
    ['/v1/projects?active_since_mins=-5', 'active_since_mins'],
    ['/v1/records?cursor=bm9wZQ', 'cursor'],
  ])('GET %s is a 400 naming the parameter', async (url, param) => {
    const response = await app.inject({ method: 'GET', url });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ type: 'invalid_request_error', param });
    expect(response.json().error.message).toContain(param);
  });

  it('GET /v1/records pages newest first with next_cursor', async () => {
    const first = (await app.inject({ method: 'GET', url: '/v1/records?limit=5' })).json();
    expect(first.data.map((r: UsageRecord) => r.id)).toEqual(['live', 'tricky', 'r06', 'r05', 'r04']);
    const second = (await app.inject({ method: 'GET', url: `/v1/records?limit=5&cursor=${first.next_cursor}` })).json();
    expect(second.data.map((r: UsageRecord) => r.id)).toEqual(['r03', 'r02', 'r01', 'r00']);
    expect(second.next_cursor).toBeNull();
    for (const record of [...first.data, ...second.data]) expect(usageRecordSchema.safeParse(record).success).toBe(true);
  });

  it('GET /v1/records filters by model, provider, source and status', async () => {
    const ids = async (query: string) => (await app.inject({ method: 'GET', url: `/v1/records?${query}` })).json().data.map((r: UsageRecord) => r.id);
    expect(await ids('status=error')).toEqual(['r06', 'r03']);
    expect(await ids('provider=anthropic-main')).toEqual(['r02']);
    expect(await ids('model=my-llm')).toEqual(['r05']);
    expect(await ids('source=cli&status=success')).toEqual(['r01']);
  });

  it('GET /v1/projects and /v1/projects/:id/records', async () => {
    const projects = (await app.inject({ method: 'GET', url: '/v1/projects' })).json().data;
    expect(projects.map((p: { id: string }) => p.id)).toEqual(['acme, "north"', 'alpha', 'beta', 'gamma', 'live']);
    const active = (await app.inject({ method: 'GET', url: '/v1/projects?active_since_mins=1' })).json();
    expect(active.data.map((p: { id: string }) => p.id)).toEqual(['live']);
    const alpha = (await app.inject({ method: 'GET', url: '/v1/projects/alpha/records?limit=2' })).json();
    expect(alpha.data.map((r: UsageRecord) => r.id)).toEqual(['r05', 'r01']);
    const rest = (await app.inject({ method: 'GET', url: `/v1/projects/alpha/records?limit=2&cursor=${alpha.next_cursor}` })).json();
    expect(rest.data.map((r: UsageRecord) => r.id)).toEqual(['r00']);
    const encoded = encodeURIComponent('acme, "north"');
    expect((await app.inject({ method: 'GET', url: `/v1/projects/${encoded}/records` })).json().data.map((r: UsageRecord) => r.id)).toEqual(['tricky']);
  });

  it('exports NDJSON: one full record per line, oldest first', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/records/export?format=ndjson' });
    expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = response.body.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line))).toEqual(mix);
  });

  it('exports CSV with RFC 4180 quoting, neutralised formulas and exact dollar costs', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/records/export?format=csv&project=acme, "north"'.replaceAll(' ', '%20').replaceAll('"', '%22') });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/csv/);
    expect(response.headers['content-disposition']).toContain('meshgate-records.csv');
    const [header, row, ...rest] = parseCsv(response.body);
    expect(rest).toEqual([]);
    const cell = (name: string) => row![header!.indexOf(name)];
    expect(header!.length).toBe(row!.length);
    expect(cell('id')).toBe('tricky');
    expect(cell('project')).toBe('acme, "north"');
    expect(cell('source')).toBe(`'=HYPERLINK("http://x")`);
    expect(cell('attempt_errors')).toBe('openai-main: line one\nline two');
    expect(cell('findings')).toBe('email@messages[0].content;credit_card@messages[1].content[0].text');
    expect(cell('cost_usd')).toBe('1.234567');
    expect(cell('time')).toBe(new Date(BASE + 10_000).toISOString());
    expect([cell('client_ip'), cell('country')]).toEqual(['2001:db8:0:1::/64', 'NL']);
    // Every text cell is quoted, so a spreadsheet splitting on ";" cannot cut a formula out of one.
    const line = response.body.split('\r\n')[1]!;
    expect(line).toContain('"tricky"');
    expect(line).not.toMatch(/(^|,)[^",]*;/);
  });

  it('has no HEAD for the routes that read whole ranges (a HEAD would run the export for nothing)', async () => {
    expect((await app.inject({ method: 'HEAD', url: '/v1/records/export' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'HEAD', url: '/v1/stats' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'HEAD', url: '/v1/records' })).statusCode).toBe(200);
  });

  it('exports an unpriced record with an empty cost, not 0', async () => {
    const [header, ...rows] = parseCsv((await app.inject({ method: 'GET', url: '/v1/records/export?format=csv&model=my-llm' })).body);
    expect(rows).toHaveLength(1);
    expect(rows[0]![header!.indexOf('cost_usd')]).toBe('');
    expect(rows[0]![header!.indexOf('priced')]).toBe('false');
    expect(rows[0]![header!.indexOf('client_ip')]).toBe(''); // unknown address: an empty cell
  });
});
