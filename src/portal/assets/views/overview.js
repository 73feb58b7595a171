import { api, query } from '../api.js';
import { timeChart } from '../chart.js';
import { card, fmt, h, section, table } from '../dom.js';

const WINDOWS = [['hour', 'Last hour'], ['day', 'Last day'], ['month', 'Last 30 days']];

export function topTable(entries, label, testid) {
  return table([
    { label, value: (e) => e.key },
    { label: 'Requests', value: (e) => fmt.int(e.requests), class: 'num' },
    { label: 'Success', value: (e) => fmt.pct(e.success_rate), class: 'num' },
    { label: 'Tokens', value: (e) => fmt.int(e.tokens), class: 'num' },
    { label: 'Cost', value: (e) => fmt.usd(e.cost_usd), class: 'num' },
  ], entries, { testid, empty: 'No requests in this window.' });
}

/** Requests, tokens, cost, errors (customer-impacting and failover-mitigated apart), latency and TTFT percentiles. */
export async function overviewView(body, params, { navigate }) {
  const window = WINDOWS.some(([w]) => w === params.get('window')) ? params.get('window') : 'day';
  const o = await api(`/v1/usage/overview${query({ window, top: 8 })}`);
  const t = o.totals;
  body.append(
    h('div', { class: 'tabs' }, WINDOWS.map(([w, label]) => h('button', { class: w === window ? 'active' : '', dataset: { window: w }, onclick: () => navigate(`#/overview?window=${w}`) }, label))),
    h('div', { class: 'cards' },
      card('Requests', fmt.int(t.requests), 'requests'),
      card('Tokens', fmt.int(t.prompt_tokens + t.completion_tokens), 'tokens', `${fmt.int(t.prompt_tokens)} in · ${fmt.int(t.completion_tokens)} out`),
      card('Cost', fmt.usd(t.cost_usd), 'cost', t.unpriced_requests ? `${t.unpriced_requests} unpriced` : undefined),
      card('Error rate', fmt.pct(t.error_rate), 'error-rate', fmt.plural(t.errors, 'error')),
      card('Customer-impacting errors', fmt.int(t.customer_impacting_errors), 'impacting'),
      card('Mitigated by failover', fmt.int(t.mitigated_by_failover), 'mitigated', `${fmt.int(t.failed_over)} failed over`),
      card('Latency p50 / p95', `${fmt.ms(t.latency_ms.p50)} / ${fmt.ms(t.latency_ms.p95)}`, 'latency'),
      card('TTFT p50 / p95', `${fmt.ms(t.ttft_ms.p50)} / ${fmt.ms(t.ttft_ms.p95)}`, 'ttft'),
    ),
    h('div', { class: 'charts' },
      timeChart('Requests', o.series.t, [
        { label: 'requests', values: o.series.requests },
        { label: 'customer-impacting', values: o.series.customer_impacting_errors },
        { label: 'mitigated by failover', values: o.series.mitigated_by_failover },
        { label: 'all errors', values: o.series.errors },
      ], { testid: 'requests-chart' }),
      timeChart('Latency and TTFT (ms)', o.series.t, [
        { label: 'latency p50', values: o.series.latency_p50 },
        { label: 'latency p95', values: o.series.latency_p95 },
        { label: 'TTFT p50', values: o.series.ttft_p50 },
        { label: 'TTFT p95', values: o.series.ttft_p95 },
      ]),
      timeChart('Tokens', o.series.t, [{ label: 'tokens', values: o.series.tokens }]),
      timeChart('Cost (USD)', o.series.t, [{ label: 'cost', values: o.series.cost_usd }], { format: (v) => fmt.usd(Number(v.toPrecision(3))) }),
    ),
    h('div', { class: 'columns' },
      section('Top models', topTable(o.top.model, 'Model', 'top-model')),
      section('Top providers', topTable(o.top.provider, 'Provider', 'top-provider')),
      section('Top projects', topTable(o.top.project, 'Project', 'top-project')),
      section('Top sources', topTable(o.top.source, 'Source', 'top-source')),
    ),
  );
}
