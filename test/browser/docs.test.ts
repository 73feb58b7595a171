import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { CHROMIUM, describeWithSystemComponent } from '../helpers/system-component.js';

/**
 * /docs in a real browser (Debian's Chromium, as the origin test): Swagger UI renders the node's own document under
 * the page's Content-Security-Policy, with no violation reported and nothing fetched from another origin. Needs
 * Chromium (`.ci/run` installs it): skipped without it on a dev machine, failed without it in CI.
 */

let mock: MockUpstream;
let node: TestGateway;
let browser: Browser;

describeWithSystemComponent(CHROMIUM, 'GET /docs in Chromium', (chromiumPath) => {
  beforeAll(async () => {
    mock = await startMockUpstream();
    node = await startTestGateway([mockProviders(mock).openai]);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await node?.close();
    await mock?.close();
  });

  it('renders the node\'s operations with no CSP violation and no foreign request', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(node.url) && !url.startsWith('data:')) foreign.push(url);
    });
    try {
      await page.goto(`${node.url}/docs`);
      await page.locator('.swagger-ui .info .title').filter({ hasText: 'meshgate' }).waitFor({ timeout: 20_000 });
      await page.locator('.opblock-summary-path', { hasText: '/v1/chat/completions' }).first().waitFor({ timeout: 10_000 });
      expect(await page.locator('.opblock').count()).toBeGreaterThan(15);
      expect(problems.filter((p) => /Content Security Policy|Refused/.test(p))).toEqual([]);
      expect(problems).toEqual([]);
      expect(foreign).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
