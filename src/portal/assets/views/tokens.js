import { api, query } from '../api.js';
import { bars, clear, errorBox, fmt, h, section, table } from '../dom.js';

const PERIODS = ['hour', 'day', 'month', 'lifetime'];

function state(token) {
  if (token.revokedAt) return h('span', { class: 'pill bad' }, 'revoked');
  if (token.expired) return h('span', { class: 'pill warn' }, 'expired');
  return h('span', { class: 'pill ok' }, 'active');
}

/** "used / limit per period", the remaining amount and when the window resets. */
function quota(usage, format) {
  if (!usage) return '–';
  return h('div', { class: 'quota' },
    h('div', {}, `${format(usage.used)} / ${format(usage.limit)} per ${usage.period}`),
    h('div', { class: 'muted', dataset: { remaining: String(usage.remaining) } }, `${format(usage.remaining)} left${usage.resetAt ? ` · resets ${fmt.time(usage.resetAt)}` : ''}`));
}

/** Origins, per-IP quota, countries and models of a token's claims or a key's rules, in one line. */
function limitsText(rules) {
  if (!rules) return '–';
  return [
    rules.domains?.length ? `origins ${rules.domains.join(', ')}` : null,
    rules.ipQuota ? `${rules.ipQuota.limit}/IP/${rules.ipQuota.period}` : null,
    rules.allowedCountries?.length ? `countries ${rules.allowedCountries.join(' ')}` : null,
    rules.blockedCountries?.length ? `not from ${rules.blockedCountries.join(' ')}` : null,
    rules.models?.length ? `models ${rules.models.join(', ')}` : null,
  ].filter(Boolean).join(' · ') || '–';
}

const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

function limitField(name, label, step = '1') {
  return h('fieldset', { class: 'limit' }, h('legend', {}, label),
    h('input', { type: 'number', name: `${name}_limit`, min: '0', step, placeholder: 'limit' }),
    h('select', { name: `${name}_period` }, PERIODS.map((p) => h('option', { value: p, defaultSelected: p === 'day' }, p))));
}

/** Claims for POST /v1/admin/tokens from the mint form (empty fields are left out). */
function claimsOf(form) {
  const get = (name) => form.elements.namedItem(name)?.value?.trim() ?? '';
  const claims = {};
  if (get('jti')) claims.jti = get('jti');
  if (get('sub')) claims.sub = get('sub');
  if (get('domains')) claims.domains = list(get('domains'));
  for (const name of ['requests', 'tokens', 'ipQuota']) {
    if (get(`${name}_limit`)) claims[name] = { limit: Number(get(`${name}_limit`)), period: get(`${name}_period`) };
  }
  if (get('cost_limit')) claims.cost = { limit: Number(get('cost_limit')), period: get('cost_period') };
  if (get('countries')) claims.allowedCountries = list(get('countries')).map((c) => c.toUpperCase());
  if (get('models')) claims.models = list(get('models'));
  if (get('expires_hours')) claims.expiresIn = Math.round(Number(get('expires_hours')) * 3_600_000);
  return claims;
}

/** Access tokens (limits, remaining quota per window, cost, expiry; mint and revoke), virtual keys, clients by IP and country. */
export async function tokensView(body) {
  const [tokens, keys, usage] = await Promise.all([api('/v1/admin/tokens'), api('/v1/admin/keys'), api(`/v1/usage/overview${query({ window: 'month', top: 1000 })}`)]);
  const costOf = new Map(usage.top.principal.map((p) => [p.key, p]));
  const minted = h('div', { class: 'minted' });

  const revokeButton = (token) => {
    if (token.revokedAt) return null;
    const button = h('button', { class: 'danger', dataset: { revoke: token.id }, onclick: async () => {
      if (button.dataset.confirm !== 'yes') {
        button.dataset.confirm = 'yes';
        button.textContent = 'Confirm revoke';
        return;
      }
      button.disabled = true;
      try {
        await api(`/v1/admin/tokens/${encodeURIComponent(token.id)}`, { method: 'DELETE' });
        await refresh();
      } catch (err) {
        button.replaceWith(errorBox(err));
      }
    } }, 'Revoke');
    return button;
  };

  const tokenTable = h('div', {});
  const renderTokens = (data) => clear(tokenTable).append(table([
    { label: 'Id', value: (t) => h('code', {}, t.id) },
    { label: 'Subject', value: (t) => t.sub ?? '–' },
    { label: 'State', value: state },
    { label: 'Requests', value: (t) => quota(t.usage.requests, fmt.int) },
    { label: 'Tokens', value: (t) => quota(t.usage.tokens, fmt.int) },
    { label: 'Cost cap', value: (t) => quota(t.usage.cost, fmt.usd) },
    { label: 'Cost (30 days)', value: (t) => fmt.usd(costOf.get(`token:${t.id}`)?.cost_usd ?? 0), class: 'num' },
    { label: 'Limits', value: (t) => limitsText(t.claims) },
    { label: 'Expires', value: (t) => (t.expiresAt ? fmt.time(t.expiresAt) : 'never') },
    { label: '', value: revokeButton },
  ], data, { testid: 'tokens', empty: 'No access tokens yet: mint one below.' }));

  const refresh = async () => renderTokens((await api('/v1/admin/tokens')).data);
  renderTokens(tokens.data);

  const form = h('form', { class: 'mint', onsubmit: async (event) => {
    event.preventDefault();
    clear(minted);
    try {
      const result = await api('/v1/admin/tokens', { method: 'POST', body: claimsOf(form) });
      const text = h('code', { class: 'secret', dataset: { testid: 'minted-token' } }, result.token);
      minted.append(h('div', { class: 'notice' },
        h('strong', {}, `Token ${result.id} minted. Copy it now: it is shown once and never again.`), text,
        h('button', { type: 'button', onclick: () => navigator.clipboard?.writeText(result.token) }, 'Copy')));
      form.reset();
      await refresh();
    } catch (err) {
      minted.append(errorBox(err));
    }
  } },
  h('div', { class: 'form-row' },
    h('label', {}, 'Id (jti, optional)', h('input', { name: 'jti', placeholder: 'random', pattern: '[A-Za-z0-9_-]{8,64}' })),
    h('label', {}, 'Subject', h('input', { name: 'sub', placeholder: 'who it is for' })),
    h('label', {}, 'Origins', h('input', { name: 'domains', placeholder: 'app.example.com, *.example.com' })),
    h('label', {}, 'Expires in (hours)', h('input', { name: 'expires_hours', type: 'number', min: '0', step: 'any' }))),
  h('div', { class: 'form-row' }, limitField('requests', 'Requests'), limitField('tokens', 'Tokens'), limitField('ipQuota', 'Requests per IP'), limitField('cost', 'Cost cap (USD)', 'any')),
  h('div', { class: 'form-row' },
    h('label', {}, 'Countries (allowed)', h('input', { name: 'countries', placeholder: 'US, DE' })),
    h('label', {}, 'Models', h('input', { name: 'models', placeholder: 'gpt-4o, claude-*' }))),
  h('button', { type: 'submit' }, 'Mint token'));

  body.append(
    section('Access tokens', tokenTable),
    section('Mint a token', form, minted),
    section('Virtual keys (from the config)', table([
      { label: 'Id', value: (k) => h('code', {}, k.id) },
      { label: 'Label', value: (k) => k.label },
      { label: 'Requests', value: (k) => quota(k.usage.requests, fmt.int) },
      { label: 'Tokens', value: (k) => quota(k.usage.tokens, fmt.int) },
      { label: 'Cost cap', value: (k) => quota(k.usage.cost, fmt.usd) },
      { label: 'Requests (30 days)', value: (k) => fmt.int(costOf.get(`virtual_key:${k.id}`)?.requests ?? 0), class: 'num' },
      { label: 'Cost (30 days)', value: (k) => fmt.usd(costOf.get(`virtual_key:${k.id}`)?.cost_usd ?? 0), class: 'num' },
      { label: 'Limits', value: (k) => limitsText(k.limits) },
      { label: 'Own provider keys', value: (k) => k.providers.join(', ') || '–' },
    ], keys.data, { testid: 'virtual-keys', empty: 'No virtual keys in the config ([key_map]).' })),
    h('div', { class: 'columns' },
      section('Top client addresses (IPv6 by /64), last 30 days', table([
        { label: 'Address', value: (e) => h('code', {}, e.key) },
        { label: 'Requests', value: (e) => fmt.int(e.requests), class: 'num' },
        { label: 'Errors', value: (e) => fmt.int(e.errors), class: 'num' },
        { label: 'Tokens', value: (e) => fmt.int(e.tokens), class: 'num' },
      ], usage.top.ip.slice(0, 20), { testid: 'top-ip', empty: 'No client addresses recorded yet.' })),
      section('Countries, last 30 days', bars(usage.top.country.slice(0, 20), { testid: 'countries' }),
        h('p', { class: 'muted' }, 'From the node\'s country database; private and loopback addresses have no country.'))),
  );
}
