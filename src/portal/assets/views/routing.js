import { api } from '../api.js';
import { append, clear, errorBox, fmt, h, section, table } from '../dom.js';

const score = (n) => (typeof n === 'number' ? n.toFixed(3) : '–');
const signals = (s) => (s ? Object.entries(s).map(([k, v]) => `${k} ${score(v)}`).join(' · ') : '–');

/** The engine's answer, layer by layer: candidates, what the filter dropped and why, the scores, the attempt plan. */
function explanation(answer, out) {
  const { layers } = answer;
  append(out, [
    h('p', { dataset: { testid: 'routing-summary' } },
      `${answer.requested} → ${answer.group ? `group ${answer.group}` : answer.name} · strategy ${answer.strategy}`
      + ` · profile ${answer.profile ?? 'none'} · about ${fmt.int(answer.estimate.input_tokens)} input tokens, up to ${fmt.int(answer.estimate.max_output_tokens)} out`),
    answer.refusal ? errorBox(`Refused: ${answer.refusal.code} (${answer.refusal.status}) — ${answer.refusal.message}`) : null,
    section('1. Candidates', table([{ label: 'Target', value: (c) => h('code', {}, c.target) }, { label: 'From', value: (c) => c.source }, { label: 'Weight', value: (c) => String(c.weight), class: 'num' }],
      layers.candidates, { testid: 'routing-candidates', empty: 'Nothing serves this name.' })),
    section('2. Filter: dropped', table([{ label: 'Target', value: (d) => h('code', {}, d.target) }, { label: 'Why', value: (d) => d.reasons.map((r) => `${r.code}: ${r.message}`).join('; ') }],
      layers.filter.dropped, { testid: 'routing-dropped', empty: 'Every candidate passed the filter.' })),
    section('3. Score', table([
      { label: 'Target', value: (s) => h('code', {}, s.target) },
      { label: 'Score', value: (s) => score(s.score), class: 'num' },
      { label: 'Signals', value: (s) => signals(s.signals) },
    ], layers.score, { testid: 'routing-scores', empty: 'No target to score.' })),
    section('4–5. Rank and attempt plan', table([
      { label: '#', value: (p) => String(p.index + 1), class: 'num' },
      { label: 'Target', value: (p) => h('code', {}, p.target) },
      { label: 'Where', value: (p) => (p.peer ? 'a mesh peer' : `provider ${p.provider}`) },
    ], answer.plan.map((p, index) => ({ ...p, index })), { testid: 'routing-plan', empty: 'No attempt would be made.' })),
  ]);
}

/** Routing visualizer: what the engine would do with a request (POST /v1/routing/explain), without calling a provider. */
export async function routingView(body) {
  const models = (await api('/v1/models')).data.filter((m) => !m.capabilities || m.capabilities.includes('chat'));
  const out = h('div', { class: 'routing-result' });
  const model = h('input', { name: 'model', list: 'routing-models', required: true, placeholder: 'a model, group or alias', value: models[0]?.id ?? '' });
  const options = h('datalist', { id: 'routing-models' }, models.map((m) => h('option', { value: m.id })));
  const profile = h('input', { name: 'profile', placeholder: 'profile (optional): cheap, fast, quality, balanced, coding…' });
  const prompt = h('textarea', { name: 'prompt', rows: 3, placeholder: 'The prompt (its size is what the context-window filter checks)' });
  const form = h('form', { class: 'routing', onsubmit: async (event) => {
    event.preventDefault();
    clear(out).append(h('p', { class: 'muted' }, 'Planning…'));
    try {
      const answer = await api('/v1/routing/explain', {
        method: 'POST',
        body: {
          model: model.value.trim(), messages: [{ role: 'user', content: prompt.value || 'hello' }],
          ...(profile.value.trim() ? { meshgate: { profile: profile.value.trim() } } : {}),
        },
      });
      clear(out);
      explanation(answer, out);
    } catch (err) {
      clear(out).append(errorBox(err));
    }
  } }, h('div', { class: 'form-row' }, h('label', {}, 'Model', model, options), h('label', {}, 'Profile', profile)), prompt, h('button', { type: 'submit' }, 'Explain'));
  body.append(section('A request', form, h('p', { class: 'muted' }, 'Nothing is sent to a provider: the engine only plans.')), out);
}
