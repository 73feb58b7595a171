import { api, query } from '../api.js';
import { fmt, h } from '../dom.js';

const price = (p) => (p === undefined ? '–' : `$${p} / 1M`);
const quality = (q) => (q ? `${q.score.toFixed(2)} (${q.weight.toFixed(1)} signals)` : '–');

/** One target's routing signals, as the Score layer reads them: measured success and latency, quality from feedback. */
function targetSignals(t) {
  return h('li', { dataset: { target: t.target } },
    h('strong', {}, t.provider.startsWith('peer:') ? 'mesh' : t.provider),
    h('span', { dataset: { signal: 'success' } }, ` success ${fmt.pct(t.success_rate)}`),
    ` · TTFT ${fmt.ms(t.ttft_ms.p50)} / ${fmt.ms(t.ttft_ms.p95)} · duration ${fmt.ms(t.duration_ms.p50)} / ${fmt.ms(t.duration_ms.p95)} · `,
    h('span', { dataset: { signal: 'quality' } }, `quality ${quality(t.quality)}`),
    t.profiles.length ? ` · ${t.profiles.map((p) => `${p.profile} ${p.score.toFixed(2)}`).join(', ')}` : '',
    ` · ${fmt.int(t.samples)} samples`);
}

/** Model cards: who serves each (local providers and peers), context, capabilities, prices and the measured profile. */
export async function modelsView(body) {
  const [models, usage, providers, signals] = await Promise.all([
    api('/v1/models'),
    api(`/v1/usage/overview${query({ window: 'month', top: 1000 })}`),
    api('/v1/providers'),
    api('/v1/routing/signals'),
  ]);
  const measured = new Map(usage.top.model.map((m) => [m.key, m]));
  const circuit = new Map(providers.data.map((p) => [p.id, p.circuit]));
  const routed = (model) => signals.data.filter((t) => t.model === model);
  body.append(h('p', { class: 'muted' }, 'Latency, TTFT and success rate are measured from this node\'s records of the last 30 days; the routing signals per target (success EWMA, p50 / p95 of the last 128 answers, quality from user signals) are what the routing engine scores with.'),
    h('div', { class: 'model-cards' }, models.data.map((m) => {
      const stats = measured.get(m.id);
      return h('article', { class: 'model-card', dataset: { model: m.id } },
        h('h3', {}, m.id),
        h('div', { class: 'chips' }, m.capabilities.map((c) => h('span', { class: 'pill' }, c))),
        h('dl', {},
          h('dt', {}, 'Served by'), h('dd', {}, [...m.providers.map((p) => `${p} (${circuit.get(p) ?? 'closed'})`), ...(m.peers ?? []).map((p) => `peer ${fmt.short(p, 16)}`)].join(', ') || '–'),
          h('dt', {}, 'Context'), h('dd', {}, m.context_length ? `${fmt.int(m.context_length)} tokens` : '–'),
          h('dt', {}, 'Prices'), h('dd', {}, m.pricing ? `in ${price(m.pricing.input)} · out ${price(m.pricing.output)}${m.pricing.cached_input !== undefined ? ` · cached ${price(m.pricing.cached_input)}` : ''}` : 'unpriced'),
          h('dt', {}, 'Requests (30 d)'), h('dd', { dataset: { metric: 'model-requests' } }, fmt.int(stats?.requests ?? 0)),
          h('dt', {}, 'Success rate'), h('dd', {}, stats ? fmt.pct(stats.success_rate) : '–'),
          h('dt', {}, 'Latency p50 / p95'), h('dd', {}, stats ? `${fmt.ms(stats.latency_ms?.p50)} / ${fmt.ms(stats.latency_ms?.p95)}` : '–'),
          h('dt', {}, 'TTFT p50 / p95'), h('dd', {}, stats ? `${fmt.ms(stats.ttft_ms?.p50)} / ${fmt.ms(stats.ttft_ms?.p95)}` : '–'),
          h('dt', {}, 'Routing signals'), h('dd', { dataset: { metric: 'routing-signals' } }, routed(m.id).length ? h('ul', { class: 'signals' }, routed(m.id).map(targetSignals)) : 'not measured yet')));
    })));
}
