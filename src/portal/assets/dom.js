// Small DOM helpers: elements are built with properties and text nodes only (nothing is parsed as markup), so nothing an API
// returns can become markup, and no style attribute is ever written (the CSP refuses inline styles).

/** h('div', { class: 'x', onclick: fn, dataset: { metric: 'requests' } }, child, 'text', …) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key in el && key !== 'list') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const integer = new Intl.NumberFormat('en-US');
export const fmt = {
  int: (n) => (n === null || n === undefined ? '–' : integer.format(n)),
  usd: (n) => {
    if (n === null || n === undefined) return '–';
    const abs = Math.abs(n);
    const text = abs === 0 ? '0.00' : abs < 1 ? abs.toFixed(6).replace(/0+$/, '').replace(/\.$/, '.00') : abs.toFixed(2);
    return `${n < 0 ? '-' : ''}$${text}`;
  },
  ms: (n) => (n === null || n === undefined ? '–' : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`),
  pct: (n) => (n === null || n === undefined ? '–' : `${(n * 100).toFixed(1)} %`),
  time: (ms) => (ms === null || ms === undefined ? '–' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19)),
  plural: (n, word) => `${integer.format(n)} ${word}${n === 1 ? '' : 's'}`,
  short: (id, n = 12) => (id && id.length > n + 3 ? `${id.slice(0, n)}…` : id ?? '–'),
};

/** A table from column definitions `{ label, value(row) → text|Node, class? }`; `onrow` makes rows clickable. */
export function table(columns, rows, { empty = 'Nothing to show.', onrow, testid } = {}) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h('table', { class: 'grid', dataset: testid ? { testid } : undefined },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.class }, c.label)))),
    h('tbody', {}, rows.map((row) => h('tr', { class: onrow ? 'clickable' : undefined, onclick: onrow ? () => onrow(row) : undefined },
      columns.map((c) => h('td', { class: c.class }, c.value(row)))))));
}

/** A figure card; `metric` names it for the browser test (data-metric). */
export function card(label, value, metric, note) {
  return h('div', { class: 'card' }, h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-value', dataset: metric ? { metric } : undefined }, value), note ? h('div', { class: 'card-note' }, note) : null);
}

/** Horizontal bars for a category distribution (widths set through the CSSOM, which the CSP allows). */
export function bars(entries, { value = (e) => e.requests, label = (e) => e.key, format = fmt.int, testid } = {}) {
  if (entries.length === 0) return h('p', { class: 'empty' }, 'No data yet.');
  const max = Math.max(...entries.map(value), 1);
  return h('div', { class: 'bars', dataset: testid ? { testid } : undefined }, entries.map((e) => {
    const fill = h('div', { class: 'bar-fill' });
    fill.style.width = `${(value(e) / max) * 100}%`;
    return h('div', { class: 'bar-row' }, h('span', { class: 'bar-label', title: label(e) }, label(e)), h('div', { class: 'bar-track' }, fill), h('span', { class: 'bar-value' }, format(value(e))));
  }));
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}
