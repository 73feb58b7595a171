import { api, download, query } from '../api.js';
import { clear, errorBox, fmt, h, table } from '../dom.js';

const FILTERS = ['model', 'provider', 'project', 'source', 'status'];
const PAGE = 25;

function attempts(record) {
  return table([
    { label: '#', value: (a) => String(a.index + 1) },
    { label: 'Target', value: (a) => a.target },
    { label: 'Result', value: (a) => (a.ok ? h('span', { class: 'pill ok' }, 'ok') : h('span', { class: 'pill bad' }, `failed ${a.status ?? ''}`)) },
    { label: 'Code', value: (a) => a.code ?? '–' },
    { label: 'Error', value: (a) => a.error ?? '–' },
    { label: 'Duration', value: (a) => fmt.ms(a.duration_ms), class: 'num' },
  ], record.attempts.map((a, index) => ({ ...a, index })), { empty: 'No upstream attempt (refused before routing).' });
}

/** Records: filterable, cursor-paginated (newest first), each with its attempts and failovers; CSV/NDJSON export. */
export async function recordsView(body, params) {
  const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? '']));
  const form = h('form', { class: 'filters', onsubmit: (event) => {
    event.preventDefault();
    const next = Object.fromEntries(FILTERS.map((f) => [f, form.elements.namedItem(f).value.trim()]));
    location.hash = `#/records${query(next)}`;
  } },
  FILTERS.map((f) => h('label', {}, f, h('input', { name: f, value: filters[f], placeholder: f === 'status' ? 'error, success, 429' : '' }))),
  h('button', { type: 'submit' }, 'Filter'),
  h('button', { type: 'button', dataset: { export: 'csv' }, onclick: () => download(`/v1/records/export${query({ ...filters, format: 'csv' })}`, 'meshgate-records.csv').catch((err) => form.append(errorBox(err))) }, 'Export CSV'),
  h('button', { type: 'button', dataset: { export: 'ndjson' }, onclick: () => download(`/v1/records/export${query({ ...filters, format: 'ndjson' })}`, 'meshgate-records.ndjson').catch((err) => form.append(errorBox(err))) }, 'Export NDJSON'));

  const list = h('div', {});
  const pager = h('div', { class: 'pager' });
  const cursors = [undefined];
  let page = 0;

  const load = async () => {
    const result = await api(`/v1/records${query({ ...filters, limit: PAGE, cursor: cursors[page] })}`);
    cursors[page + 1] = result.next_cursor ?? undefined;
    const detail = new Map();
    const rows = result.data;
    clear(list).append(table([
      { label: 'Time', value: (r) => fmt.time(r.time) },
      { label: 'Request', value: (r) => h('code', {}, fmt.short(r.id, 14)) },
      { label: 'Model', value: (r) => r.model ?? r.requested_model },
      { label: 'Served by', value: (r) => (r.served_by === 'peer' ? `peer ${fmt.short(r.peer, 10)}` : r.provider ?? '–') },
      { label: 'Status', value: (r) => h('span', { class: `pill ${r.status >= 400 ? 'bad' : 'ok'}` }, String(r.status)) },
      { label: 'Attempts', value: (r) => `${r.attempts.length}${r.failovers ? ` (${r.failovers} failover${r.failovers > 1 ? 's' : ''})` : ''}`, class: 'num' },
      { label: 'Tokens', value: (r) => fmt.int(r.prompt_tokens + r.completion_tokens), class: 'num' },
      { label: 'Cost', value: (r) => (r.cost_micros === null ? 'unpriced' : fmt.usd(r.cost_micros / 1e6)), class: 'num' },
      { label: 'Latency', value: (r) => fmt.ms(r.latency_ms), class: 'num' },
      { label: 'Project', value: (r) => r.project ?? '–' },
      { label: 'Source', value: (r) => r.source ?? '–' },
    ], rows, { testid: 'records', empty: 'No records match.', onrow: (r) => {
      const rowEl = [...list.querySelectorAll('tbody tr')][rows.indexOf(r)];
      if (detail.has(r.id)) {
        detail.get(r.id).remove();
        detail.delete(r.id);
        return;
      }
      const extra = h('tr', { class: 'detail' }, h('td', { colSpan: 11 },
        h('div', { class: 'muted' }, `${r.client_format} ${r.operation} · principal ${r.principal.kind}${r.principal.id ? `:${r.principal.id}` : ''} · ${r.stream ? 'streamed' : 'not streamed'}${r.error_type ? ` · ${r.error_type}` : ''}`),
        attempts(r)));
      rowEl.after(extra);
      detail.set(r.id, extra);
    } }));
    clear(pager).append(
      h('button', { disabled: page === 0, onclick: () => { page--; void load(); } }, 'Newer'),
      h('span', { dataset: { testid: 'page' } }, `Page ${page + 1}`),
      h('button', { disabled: !cursors[page + 1], onclick: () => { page++; void load(); } }, 'Older'));
  };
  body.append(form, list, pager);
  await load();
}
