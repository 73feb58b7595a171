import { api, ApiError } from '../api.js';
import { timeChart } from '../chart.js';
import { bars, clear, errorBox, fmt, h, section, table } from '../dom.js';

/** Epoch ms of a time-axis value (epoch ms or s, ISO text), or undefined. */
function asTime(value) {
  if (typeof value === 'number') return value > 1e11 ? value : value > 1e8 ? value * 1000 : undefined;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value.replace(' ', 'T'));
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** A chart when the result has a time axis (first column) or a category axis with a numeric column. */
export function resultChart(columns, rows) {
  if (rows.length < 1 || columns.length < 2) return null;
  const numeric = columns.slice(1).map((_, i) => i + 1).filter((i) => rows.every((r) => r[i] === null || typeof r[i] === 'number'));
  if (numeric.length === 0) return null;
  const times = rows.map((r) => asTime(r[0]));
  if (times.every((t) => t !== undefined) && /time|date|day|hour|minute|bucket|week|month|^t$|ts/i.test(columns[0])) {
    const order = times.map((t, i) => [t, i]).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
    return timeChart(`${numeric.map((i) => columns[i]).join(', ')} by ${columns[0]}`, order.map((i) => times[i]), numeric.map((c) => ({ label: columns[c], values: order.map((i) => rows[i][c]) })), { testid: 'ask-chart' });
  }
  if (rows.every((r) => typeof r[0] === 'string' || r[0] === null)) {
    const c = numeric[0];
    return h('div', { class: 'chart', dataset: { testid: 'ask-chart' } }, h('h3', {}, `${columns[c]} by ${columns[0]}`),
      bars(rows.slice(0, 30).map((r) => ({ key: r[0] ?? '(null)', value: r[c] ?? 0 })), { value: (e) => e.value, format: (v) => fmt.int(Math.round(v * 1e6) / 1e6) }));
  }
  return null;
}

function result(res, out) {
  const { columns, rows } = res;
  out.append(
    res.summary ? h('p', { class: 'summary', dataset: { testid: 'ask-summary' } }, res.summary) : null,
    res.sql ? h('pre', { class: 'sql', dataset: { testid: 'ask-sql' } }, res.sql) : null,
    h('p', { class: 'muted' }, `${fmt.int(res.row_count)} row(s)${res.truncated ? ' (truncated)' : ''}${res.elapsed_ms !== undefined ? ` in ${res.elapsed_ms} ms` : ''}${res.model ? ` · written by ${res.model}` : ''}`),
    resultChart(columns, rows),
    table(columns.map((name, i) => ({ label: name, value: (r) => (r[i] === null ? '–' : String(r[i])) })), rows, { testid: 'ask-rows', empty: 'No rows.' }),
  );
}

function refusal(err, out) {
  out.append(errorBox(err));
  const details = err instanceof ApiError ? err.body?.error?.details : undefined;
  if (details?.reason) out.append(h('p', { dataset: { testid: 'ask-reason' } }, `Reason: ${details.reason}`));
  if (details?.sql) out.append(h('pre', { class: 'sql' }, details.sql));
}

/** A question in plain language (POST /v1/ask) or SQL (POST /v1/query) over the records; the answer as a table and a chart. */
export async function askView(body) {
  const out = h('div', { class: 'ask-result' });
  const question = h('textarea', { name: 'question', rows: 2, placeholder: 'Which models cost the most this week?' });
  const sql = h('textarea', { name: 'sql', rows: 3, placeholder: 'SELECT model, count(*) AS requests FROM records GROUP BY model ORDER BY requests DESC' });
  const run = (path, payload) => async (event) => {
    event.preventDefault();
    clear(out).append(h('p', { class: 'muted' }, 'Working…'));
    try {
      const res = await api(path, { method: 'POST', body: payload() });
      clear(out);
      result(res, out);
    } catch (err) {
      clear(out);
      refusal(err, out);
    }
  };
  body.append(
    h('div', { class: 'columns' },
      section('Ask about usage', h('form', { onsubmit: run('/v1/ask', () => ({ question: question.value })) }, question, h('button', { type: 'submit' }, 'Ask')),
        h('p', { class: 'muted' }, 'The node has its configured model ([analytics] model) write SQL over the records, checks it is one read-only SELECT, and runs it.')),
      section('Or run SQL', h('form', { onsubmit: run('/v1/query', () => ({ sql: sql.value })) }, sql, h('button', { type: 'submit' }, 'Run')))),
    section('Answer', out),
  );
}
