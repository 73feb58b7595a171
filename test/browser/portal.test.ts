import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PORTAL_CSP } from '../../src/portal/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { CHROMIUM, describeWithSystemComponent } from '../helpers/system-component.js';

/**
 * The web console in a real browser (Debian's Chromium driven by playwright-core) against a real node A with data:
 * requests served by its own providers (one saved by failover, one failing on every provider), requests served by
 * peer B over the mesh (so A holds receipts), a token with a quota. Every view is walked, its figures compared with
 * the API's, a token minted and revoked through the UI, and screenshots saved under test-output/portal/.
 * Needs Chromium (`.ci/run` installs it): skipped without it on a dev machine, failed without it in CI.
 */
const SHOTS = join(process.cwd(), 'test-output', 'portal');
const VIRTUAL_KEY = 'team-a-virtual-key-0123456789';
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...extra });

let upstreamA: MockUpstream;
let upstreamB: MockUpstream;
let a: TestGateway;
let b: TestGateway;
let browser: Browser;
let page: Page;
let adminKey: string;
const cspViolations: string[] = [];
const pageErrors: string[] = [];

async function admin<T = any>(path: string, init: RequestInit = {}): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const response = await fetch(`${a.url}${path}`, { ...init, headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', ...init.headers } });
  expect(response.ok, `${path} answered ${response.status}`).toBe(true);
  return (await response.json()) as T;
}

async function chat(model: string, headers: Record<string, string> = {}, content = 'hello'): Promise<Response> {
  return fetch(`${a.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
}

/** Opens a view and waits until it has its data (the app marks `main[data-ready=true]`). */
async function open(hash: string): Promise<void> {
  await page.evaluate((h) => { (globalThis as unknown as { location: { hash: string } }).location.hash = h; }, hash);
  await page.waitForSelector(`main[data-view="${hash.replace(/^#\//, '').split('?')[0]}"][data-ready="true"]`, { timeout: 15_000 });
  await page.waitForLoadState('networkidle');
}

const text = (selector: string) => page.locator(selector).first().innerText();
const int = (n: number) => new Intl.NumberFormat('en-US').format(n);

async function setUp(chromiumPath: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  upstreamA = await startMockUpstream();
  upstreamB = await startMockUpstream();
  b = await startTestGateway([{ id: 'b-openai', type: 'openai', base_url: upstreamB.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 }], { mesh: mesh() });
  a = await startTestGateway([
    { id: 'a-main', type: 'openai', base_url: upstreamA.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o-mini'], max_retries: 0 },
    { id: 'a-backup', type: 'openai', base_url: upstreamA.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o-mini'], max_retries: 0 },
  ], {
    server: { trust_proxy: true },
    auth: { mode: ['token', 'key', 'public'] },
    key_map: { [VIRTUAL_KEY]: { label: 'team-a', requests: { limit: 50, period: 'day' } } },
    analytics: { model: 'gpt-4o-mini' },
    // One user signal (its weight decaying from 1) is enough for a quality figure (the model cards show it).
    signals: { min_weight: 0.5 },
    mesh: mesh({ bootstrap: b.gateway.mesh!.multiaddrs(), reconcile_interval_seconds: 0 }) });
  adminKey = a.gateway.access.adminKey.secret.reveal();
  for (let i = 0; i < 150 && !a.gateway.mesh!.knownModels().has('gpt-4o'); i++) await new Promise((r) => setTimeout(r, 100));

  // Data: served locally (projects and sources), one saved by failover, one failing everywhere, two served by B.
  // A sits behind a proxy (trust_proxy): three clients with public addresses, two of them in one IPv6 /64.
  for (const [project, source, ip] of [['alpha', 'web', '8.8.8.8'], ['alpha', 'cli', '2a00:1450:4001:81b::1'], ['beta', 'web', '2a00:1450:4001:81b::2']]) {
    expect((await chat('gpt-4o-mini', { 'x-project': project!, 'x-source': source!, 'x-forwarded-for': ip! })).status).toBe(200);
  }
  upstreamA.enqueue({ kind: 'error', status: 503 });
  expect((await chat('gpt-4o-mini', { 'x-project': 'beta' })).status).toBe(200);
  upstreamA.enqueue({ kind: 'error', status: 500 }, { kind: 'error', status: 500 });
  expect((await chat('gpt-4o-mini', { 'x-project': 'beta' })).status).toBeGreaterThanOrEqual(500);
  for (let i = 0; i < 2; i++) expect((await chat('gpt-4o', { 'x-project': 'mesh' })).status).toBe(200);
  const minted = await admin<{ token: string }>('/v1/admin/tokens', { method: 'POST', body: JSON.stringify({ jti: 'api-token-0001', sub: 'quota holder', requests: { limit: 10, period: 'day' } }) });
  for (let i = 0; i < 2; i++) expect((await chat('gpt-4o-mini', { authorization: `Bearer ${minted.token}` })).status).toBe(200);
  expect((await chat('gpt-4o-mini', { authorization: `Bearer ${VIRTUAL_KEY}` })).status).toBe(200);
  await a.waitForOutcomes(10);
  // Receipts arrive with the forwarded answers' trailers; bounded wait until A holds both.
  for (let i = 0; i < 100 && (await admin('/v1/mesh/receipts')).data.length < 2; i++) await new Promise((r) => setTimeout(r, 100));

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
}

async function tearDown(): Promise<void> {
  await browser?.close();
  await Promise.all([a?.close(), b?.close()]);
  await Promise.all([upstreamA?.close(), upstreamB?.close()]);
}

describeWithSystemComponent(CHROMIUM, 'the portal in a real browser', (chromiumPath) => {
  beforeAll(() => setUp(chromiumPath), 90_000);
  afterAll(tearDown);

  it('serves the console with a strict CSP and asks for the admin key, which it keeps in sessionStorage only', async () => {
    const response = await page.goto(`${a.url}/`);
    expect(response!.status()).toBe(200);
    expect(response!.headers()['content-security-policy']).toBe(PORTAL_CSP);
    expect(PORTAL_CSP).not.toContain('unsafe-inline');
    await page.fill('#admin-key', 'sk-meshgate-wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('.signin .error');
    expect(await text('.signin .error')).toContain('refused');
    await page.fill('#admin-key', adminKey);
    await page.click('button[type=submit]');
    await page.waitForSelector('main[data-ready="true"]');
    const storage = await page.evaluate(() => {
      // Runs in the page (the test's tsconfig has no DOM types).
      const w = globalThis as unknown as { sessionStorage: Storage; localStorage: Storage; document: { cookie: string }; location: { href: string } };
      return { session: w.sessionStorage.getItem('meshgate.adminKey'), local: w.localStorage.length, cookie: w.document.cookie, url: w.location.href };
    });
    expect(storage).toEqual({ session: adminKey, local: 0, cookie: '', url: expect.not.stringContaining(adminKey) });
  });

  it('Overview: the figures shown are the API\'s, with impacting errors and failover saves apart', async () => {
    await open('#/overview?window=hour');
    const api = await admin('/v1/usage/overview?window=hour');
    expect(api.totals.requests).toBe(10);
    expect(await text('[data-metric=requests]')).toBe(int(api.totals.requests));
    expect(await text('[data-metric=impacting]')).toBe(int(api.totals.customer_impacting_errors));
    expect(api.totals.customer_impacting_errors).toBe(1);
    expect(await text('[data-metric=mitigated]')).toBe(int(api.totals.mitigated_by_failover));
    expect(api.totals.mitigated_by_failover).toBe(1);
    expect(await text('[data-metric=tokens]')).toBe(int(api.totals.prompt_tokens + api.totals.completion_tokens));
    expect(await page.locator('[data-testid=requests-chart] canvas').count()).toBe(1);
    expect(await page.locator('[data-testid=top-model] tbody tr').count()).toBe(api.top.model.length);
    await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });
  });

  it('Tokens and keys: remaining quota per window; mint with the token shown once, then revoke', async () => {
    await open('#/tokens');
    expect(await page.locator('[data-testid=tokens] [data-remaining="8"]').count()).toBe(1); // 10 a day, 2 used
    const keyRow = page.locator('[data-testid=virtual-keys] tbody tr');
    expect(await keyRow.count()).toBe(1);
    expect(await keyRow.innerText()).toContain('team-a');
    expect(await keyRow.locator('[data-remaining="49"]').count()).toBe(1); // 50 a day, 1 used
    expect(await page.content()).not.toContain(VIRTUAL_KEY);
    const usage = await admin('/v1/usage/overview?window=month&top=1000');
    const ips = await page.locator('[data-testid=top-ip] tbody tr td:first-child').allInnerTexts();
    expect(ips).toEqual(usage.top.ip.map((e: { key: string }) => e.key));
    expect(ips).toContain('2a00:1450:4001:81b::/64'); // two addresses, one subscriber
    expect(usage.top.ip.find((e: { key: string }) => e.key === '2a00:1450:4001:81b::/64').requests).toBe(2);
    expect(usage.top.country.length).toBeGreaterThan(0); // the bundled country database knows these addresses
    expect(await page.locator('[data-testid=countries] .bar-row').count()).toBe(usage.top.country.length);

    await page.fill('input[name=jti]', 'ui-token-0001');
    await page.fill('input[name=sub]', 'minted in the portal');
    await page.fill('input[name=requests_limit]', '5');
    await page.click('form.mint button[type=submit]');
    const token = await page.locator('[data-testid=minted-token]').innerText();
    expect(token).toMatch(/^mg-/);
    expect((await chat('gpt-4o-mini', { authorization: `Bearer ${token}` })).status).toBe(200);
    const listed = (await admin('/v1/admin/tokens')).data.find((t: { id: string }) => t.id === 'ui-token-0001');
    expect(listed).toMatchObject({ sub: 'minted in the portal', revokedAt: null, usage: { requests: { limit: 5, period: 'day' } } });
    await page.screenshot({ path: join(SHOTS, 'tokens.png'), fullPage: true });

    // Shown once: after a reload, the page has no trace of it.
    await page.reload();
    await page.waitForSelector('main[data-ready="true"]');
    expect(await page.content()).not.toContain(token);

    await page.click('[data-revoke="ui-token-0001"]');
    await page.click('[data-revoke="ui-token-0001"]'); // confirm
    await expect.poll(async () => (await admin('/v1/admin/tokens/ui-token-0001')).revokedAt, { timeout: 5_000 }).not.toBeNull();
    expect((await chat('gpt-4o-mini', { authorization: `Bearer ${token}` })).status).toBe(401);
    await page.waitForSelector('[data-testid=tokens] >> text=revoked');
  });

  it('Models: cards with who serves each, the request count of the records and the routing signals per target', async () => {
    // A user signal about one request, so the card has a quality figure to show.
    const rated = await chat('gpt-4o-mini');
    expect(rated.status).toBe(200);
    await admin('/v1/signals', { method: 'POST', body: JSON.stringify({ request_id: rated.headers.get('x-request-id'), signal: 'thumbs_up' }) });
    await open('#/models');
    const api = await admin('/v1/usage/overview?window=month&top=1000');
    const mini = api.top.model.find((m: { key: string }) => m.key === 'gpt-4o-mini');
    expect(await text('[data-model="gpt-4o-mini"] [data-metric=model-requests]')).toBe(int(mini.requests));
    expect(await text('[data-model="gpt-4o"]')).toContain('peer');
    expect(await text('[data-model="gpt-4o-mini"]')).toContain('a-backup');

    const signals = (await admin('/v1/routing/signals')).data as Array<{ target: string; model: string; success_rate: number | null; quality: { score: number } | null }>;
    const measured = signals.filter((t) => t.model === 'gpt-4o-mini');
    expect(measured.length).toBeGreaterThan(0);
    for (const t of measured) {
      const shown = `[data-model="gpt-4o-mini"] [data-target="${t.target}"]`;
      expect((await text(`${shown} [data-signal=success]`)).trim()).toBe(`success ${t.success_rate === null ? '–' : `${(t.success_rate * 100).toFixed(1)} %`}`);
      expect(await text(`${shown} [data-signal=quality]`)).toContain(t.quality ? t.quality.score.toFixed(2) : '–');
    }
    expect(measured.some((t) => t.quality !== null)).toBe(true);
  });

  it('Projects and requesters: live list with success rates, clicking through to the project\'s records', async () => {
    await open('#/projects?minutes=60');
    const rows = page.locator('[data-testid=projects] tbody tr');
    expect(await rows.count()).toBe((await admin('/v1/projects?active_since_mins=60')).data.length);
    const beta = rows.filter({ hasText: 'beta' });
    expect(await beta.innerText()).toContain('66.7 %'); // 3 requests, the one that failed everywhere counted
    await beta.click();
    await page.waitForSelector('main[data-view="records"][data-ready="true"]');
    const betaRecords = (await admin('/v1/records?project=beta')).data;
    expect(await page.locator('[data-testid=records] tbody tr').count()).toBe(betaRecords.length);
  });

  it('Records: a record\'s attempts and failovers, and an export that carries the bearer header', async () => {
    await open('#/records');
    const records = (await admin('/v1/records?limit=25')).data;
    expect(await page.locator('[data-testid=records] tbody tr').count()).toBe(records.length);
    // The request that a-main refused with a 503 and a-backup answered.
    const failedOver = page.locator('[data-testid=records] tbody tr').filter({ hasText: '1 failover' }).filter({ hasText: 'a-backup' }).first();
    await failedOver.click();
    const detail = page.locator('tr.detail').first();
    expect(await detail.locator('tbody tr').count()).toBe(2);
    expect(await detail.innerText()).toContain('failed 503');

    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click('[data-export=csv]')]);
    const csv = await readFile((await download.path())!, 'utf8');
    const total = (await admin('/v1/stats')).totals.requests;
    expect(csv.trim().split(/\r?\n/)).toHaveLength(total + 1);
    await page.screenshot({ path: join(SHOTS, 'records.png'), fullPage: true });
  });

  it('Mesh: this node, peer B on the map, the ledger balance and the receipts', async () => {
    await open('#/mesh');
    expect(await text('[data-testid=self-peer-id]')).toBe(a.gateway.mesh!.peerId);
    expect(await page.locator(`.mesh-map [data-peer="${b.gateway.mesh!.peerId}"]`).count()).toBe(1);
    const ledger = (await admin('/v1/mesh/ledger')).data;
    const withB = ledger.find((p: { peer: string }) => p.peer === b.gateway.mesh!.peerId);
    expect(withB.consumed.receipts).toBe(2);
    expect(await page.locator(`[data-balance="${b.gateway.mesh!.peerId}"]`).count()).toBe(1);
    expect(await page.locator('[data-testid=receipts] tbody tr').count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'mesh.png'), fullPage: true });
  });

  it('Routing: the engine\'s layers and attempt plan for a request, as POST /v1/routing/explain answers them', async () => {
    await open('#/routing');

    await page.fill('input[name=model]', 'gpt-4o-mini');
    await page.fill('input[name=profile]', 'cheap');
    await page.click('form.routing button[type=submit]');
    await page.waitForSelector('[data-testid=routing-plan], .routing-result .empty, .routing-result [role=alert]');
    expect(await page.locator('.routing-result [role=alert]').count(), await page.locator('.routing-result').innerText()).toBe(0);
    const expected = await admin<{ plan: Array<{ target: string }>; strategy: string; layers: { candidates: Array<{ target: string }> } }>('/v1/routing/explain', {
      method: 'POST', body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], meshgate: { profile: 'cheap' } }),
    });
    expect(expected.plan.length).toBeGreaterThan(0);
    const planShown = await page.$$eval('[data-testid=routing-plan] tbody tr td:nth-child(2)', (cells) => cells.map((c) => c.textContent));
    expect(planShown).toEqual(expected.plan.map((p) => p.target));
    const candidatesShown = await page.$$eval('[data-testid=routing-candidates] tbody tr td:first-child', (cells) => cells.map((c) => c.textContent));
    expect(candidatesShown).toEqual(expected.layers.candidates.map((c) => c.target));
    expect(await text('[data-testid=routing-summary]')).toContain(`strategy ${expected.strategy} · profile cheap`);
    // A profile this node does not have: the error the client would get, shown instead of a plan.
    await page.fill('input[name=profile]', 'no-such-profile');
    await page.click('form.routing button[type=submit]');
    await page.waitForSelector('.routing-result [role=alert]');
    expect(await text('.routing-result [role=alert]')).toContain('no-such-profile');
    expect(await page.locator('[data-testid=routing-plan]').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'routing.png'), fullPage: true });
  });

  it('Playground: a streamed chat through the node, with the gateway\'s headers', async () => {
    await open('#/playground');
    await page.selectOption('select[name=model]', 'gpt-4o-mini');
    await page.fill('textarea[name=message]', 'hello from the portal');
    await page.click('form.playground button[type=submit]');
    await page.waitForSelector('[data-testid=usage]');
    expect(await text('[data-testid=answer]')).toContain('says: hello from the portal');
    const headers = await text('[data-testid=response-headers]');
    expect(headers).toContain('x-meshgate-provider');
    expect(headers).toContain('x-request-id');
    expect(headers).toContain('text/event-stream');
    await page.screenshot({ path: join(SHOTS, 'playground.png'), fullPage: true });
  });

  it('Ask: SQL and a question in plain language answered as a table and a chart; a write attempt refused with its reason', async () => {
    await open('#/ask');
    await page.fill('textarea[name=sql]', 'SELECT model, count(*) AS requests FROM records GROUP BY model ORDER BY requests DESC');
    await page.click('textarea[name=sql] ~ button');
    await page.waitForSelector('[data-testid=ask-rows]');
    const byModel = await admin('/v1/query', { method: 'POST', body: JSON.stringify({ sql: 'SELECT model, count(*) AS requests FROM records GROUP BY model ORDER BY requests DESC' }) });
    expect(await page.locator('[data-testid=ask-rows] tbody tr').count()).toBe(byModel.row_count);
    expect(await page.locator('[data-testid=ask-chart] .bar-row').count()).toBe(byModel.row_count); // a category axis: bars

    // The node's analytics model (the mock here) writes the SQL; the page shows it, the rows and the summary.
    const sql = 'SELECT project, count(*) AS requests FROM records WHERE project IS NOT NULL GROUP BY project ORDER BY requests DESC, project';
    upstreamA.enqueue({ kind: 'text', text: JSON.stringify({ sql, summary: 'Requests per project.' }) });
    await page.fill('textarea[name=question]', 'How many requests did each project send?');
    await page.click('textarea[name=question] ~ button');
    await page.waitForSelector('[data-testid=ask-summary]');
    expect(await text('[data-testid=ask-summary]')).toBe('Requests per project.');
    expect(await text('[data-testid=ask-sql]')).toBe(sql);
    expect(await page.locator('[data-testid=ask-rows] tbody td:first-child').allInnerTexts()).toEqual(['beta', 'alpha', 'mesh']);
    await page.screenshot({ path: join(SHOTS, 'ask.png'), fullPage: true });

    upstreamA.enqueue({ kind: 'text', text: JSON.stringify({ sql: 'DELETE FROM records', summary: 'Done.' }) });
    await page.fill('textarea[name=question]', 'Delete every record');
    await page.click('textarea[name=question] ~ button');
    await page.waitForSelector('[data-testid=ask-reason]');
    expect(await text('.ask-result .sql')).toBe('DELETE FROM records');
  });

  it('ran without a page error or a CSP violation', () => {
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
