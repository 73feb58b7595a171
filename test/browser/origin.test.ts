import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGatewayToken } from '../../src/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { CHROMIUM, describeWithSystemComponent } from '../helpers/system-component.js';

/**
 * In a real browser (Debian's Chromium driven by playwright-core): a page from an allowed origin and a page from
 * another origin call the gateway with the same origin-bound token. Only the allowed one gets an answer; the other
 * is stopped by CORS in the browser and by the origin check at the gateway. Needs Chromium (`.ci/run` installs it):
 * skipped without it on a dev machine, failed without it in CI.
 */

let mock: MockUpstream;
let node: TestGateway;
let pages: Server;
let browser: Browser;
let pagePort: number;
let token: string;

const PAGE = `<!doctype html><meta charset="utf-8"><script>
  window.ask = async (gateway, token) => {
    try {
      const res = await fetch(gateway + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'from the browser' }] }),
      });
      const body = await res.json();
      return { status: res.status, text: body.choices ? body.choices[0].message.content : body.error.message, provider: res.headers.get('x-meshgate-provider') };
    } catch (err) {
      return { status: 0, text: String(err) };
    }
  };
</script>`;

async function askFrom(origin: string): Promise<{ status: number; text: string; provider?: string | null }> {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(([gateway, t]) => (globalThis as unknown as { ask: (g: string, t: string) => Promise<{ status: number; text: string; provider?: string | null }> }).ask(gateway!, t!), [node.url, token]);
  } finally {
    await page.close();
  }
}

describeWithSystemComponent(CHROMIUM, 'origin-bound token in a real browser', (chromiumPath) => {
  beforeAll(async () => {
    mock = await startMockUpstream();
    // Preflights carry no token, so the gateway answers them for origins it is told about (cors_origins) or has seen in
    // a token; the actual request is then checked against the token's own domains.
    node = await startTestGateway([mockProviders(mock).openai], { auth: { mode: 'token', cors_origins: ['localhost'] } });
    token = await generateGatewayToken(node.gateway.access.adminKey.secret.reveal(), { jti: 'browser-token-1', domains: ['localhost'], expiresIn: 600_000 });
    pages = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagePort = (pages.address() as AddressInfo).port;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (pages) await new Promise((resolve) => pages.close(resolve));
    await node?.close();
    await mock?.close();
  });

  it('answers the page served from the allowed origin', async () => {
    const result = await askFrom(`http://localhost:${pagePort}`);
    expect(result.status).toBe(200);
    expect(result.text).toContain('says: from the browser');
    // The page may read how it was answered (exposed by CORS), not only the body.
    expect(result.provider).toBe('openai');
  });

  it('gives nothing to the same page served from another origin', async () => {
    const before = mock.requests.length;
    const result = await askFrom(`http://127.0.0.1:${pagePort}`);
    expect(result.status).toBe(0); // the browser blocks the response: no CORS grant for this origin
    expect(result.text).toMatch(/Failed to fetch|TypeError/);
    expect(mock.requests.length).toBe(before); // and the gateway never called the provider
  });
});
