/**
 * On your website's server (or at build time): mint a short-lived access token bound to your domain, offline, from
 * the admin key, and hand it to the page. `MESHGATE_ADMIN_KEY=sk-meshgate-… npx tsx examples/website/mint-token.ts`
 */
import { generateGatewayToken } from '../../src/index.js';

const token = await generateGatewayToken(process.env.MESHGATE_ADMIN_KEY ?? '', {
  domains: ['myapp.com', '*.myapp.com'],
  requests: { limit: 1_000, period: 'day' },
  ipQuota: { limit: 30, period: 'hour' },
  cost: { limit: 5, currency: 'USD' },
  models: ['gpt-4o-mini'],
  expiresIn: 60 * 60 * 1000,
});
console.log(token);
