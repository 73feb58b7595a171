import { api, query } from '../api.js';
import { fmt, h, section, table } from '../dom.js';

const SPANS = [[15, '15 min'], [60, '1 hour'], [1440, '1 day']];

/** Projects (x-project) and requesters (x-source) active in the last N minutes, with success rates; click → records. */
export async function projectsView(body, params, { navigate }) {
  const minutes = Number(params.get('minutes')) || 60;
  const from = Date.now() - minutes * 60_000;
  const [active, stats] = await Promise.all([api(`/v1/projects${query({ active_since_mins: minutes })}`), api(`/v1/stats${query({ from })}`)]);
  const byProject = new Map(stats.by.project.map((g) => [g.key, g]));
  const columns = (label) => [
    { label, value: (g) => g.key },
    { label: 'Requests', value: (g) => fmt.int(g.requests), class: 'num' },
    { label: 'Success', value: (g) => fmt.pct(g.requests ? (g.requests - g.errors) / g.requests : 0), class: 'num' },
    { label: 'Tokens', value: (g) => fmt.int(g.prompt_tokens + g.completion_tokens), class: 'num' },
    { label: 'Cost', value: (g) => fmt.usd(g.cost_usd), class: 'num' },
    { label: 'Avg latency', value: (g) => fmt.ms(g.avg_latency_ms), class: 'num' },
  ];
  const projects = active.data.map((p) => ({ ...(byProject.get(p.id) ?? { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, avg_latency_ms: null }), key: p.id, last_seen: p.last_seen }));
  body.append(
    h('div', { class: 'tabs' }, SPANS.map(([m, label]) => h('button', { class: m === minutes ? 'active' : '', onclick: () => navigate(`#/projects?minutes=${m}`) }, `Last ${label}`))),
    h('div', { class: 'columns' },
      section(`Projects active in the last ${minutes} minutes`, table([...columns('Project'), { label: 'Last seen', value: (g) => fmt.time(g.last_seen) }], projects,
        { testid: 'projects', empty: 'No project sent a request in this span.', onrow: (g) => navigate(`#/records?project=${encodeURIComponent(g.key)}`) })),
      section('Requesters (x-source)', table(columns('Source'), stats.by.source.filter((g) => g.key !== '(none)'),
        { testid: 'sources', empty: 'No requester sent x-source in this span.', onrow: (g) => navigate(`#/records?source=${encodeURIComponent(g.key)}`) }))),
  );
}
