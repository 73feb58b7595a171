import { api, ApiError } from '../api.js';
import { errorBox, fmt, h, section, table } from '../dom.js';

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** This node in the middle, its peers on a circle around it; links coloured by state, labelled with their models. */
function peerMap(mesh) {
  const size = 420;
  const c = size / 2;
  const r = 150;
  const map = svg('svg', { viewBox: `0 0 ${size} ${size}`, class: 'mesh-map', role: 'img', 'aria-label': 'mesh peers' });
  mesh.peers.forEach((peer, i) => {
    const angle = (2 * Math.PI * i) / Math.max(1, mesh.peers.length) - Math.PI / 2;
    const x = c + r * Math.cos(angle);
    const y = c + r * Math.sin(angle);
    map.append(svg('line', { x1: c, y1: c, x2: x, y2: y, class: `link ${peer.state}` }));
    const node = svg('g', { class: `peer ${peer.state}`, 'data-peer': peer.peerId },
      svg('circle', { cx: x, cy: y, r: 18 }),
      svg('text', { x, y: y + 34, 'text-anchor': 'middle', class: 'label' }, fmt.short(peer.peerId, 10)),
      svg('text', { x, y: y + 48, 'text-anchor': 'middle', class: 'sub' }, `${peer.models.length} models · score ${peer.score.toFixed(2)}`),
      svg('title', {}, `${peer.peerId}\n${peer.state}\n${peer.models.map((m) => m.id ?? m).join(', ')}`));
    map.append(node);
  });
  map.append(svg('g', { class: 'self' }, svg('circle', { cx: c, cy: c, r: 24 }), svg('text', { x: c, y: c + 42, 'text-anchor': 'middle', class: 'label' }, 'this node')));
  return map;
}

/** The last reconciliation's outcome in a line: when, and what it found. */
function reconciliation(result) {
  if (!result) return 'never';
  const { at, time, finishedAt, ...rest } = result;
  const when = at ?? time ?? finishedAt;
  const facts = Object.entries(rest).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k} ${v}`).join(' · ');
  return `${when ? `${fmt.time(when)} · ` : ''}${facts}`;
}

const modelIds = (models) => models.map((m) => (typeof m === 'string' ? m : m.id)).join(', ');

/** This node, its peers (map and table) and the ledger: balances per peer, receipts, disputes, last reconciliation. */
export async function meshView(body) {
  let mesh;
  try {
    mesh = await api('/v1/mesh');
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return body.append(h('p', { class: 'empty' }, 'The mesh is not enabled on this node ([mesh] enabled = true).'));
    throw err;
  }
  const [ledger, receipts] = await Promise.all([api('/v1/mesh/ledger'), api('/v1/mesh/receipts')]);
  const reconcileResult = h('div', {});
  body.append(
    h('div', { class: 'columns' },
      section('Peers', peerMap(mesh),
        h('p', { class: 'muted' }, `This node: `, h('code', { dataset: { testid: 'self-peer-id' } }, mesh.peerId), ` · ${mesh.connections} connections · ${mesh.inFlight} forwarded requests in flight · forward ${mesh.forward}`)),
      section('Peer list', table([
        { label: 'Peer', value: (p) => h('code', { title: p.peerId }, fmt.short(p.peerId, 16)) },
        { label: 'State', value: (p) => h('span', { class: `pill ${p.state === 'banned' ? 'bad' : p.state === 'connected' ? 'ok' : ''}` }, p.state) },
        { label: 'Models', value: (p) => modelIds(p.models) || '–' },
        { label: 'Capacity', value: (p) => (p.capacity ? `${p.capacity.inFlight} / ${p.capacity.maxConcurrent} in flight` : '–') },
        { label: 'Score', value: (p) => p.score.toFixed(2), class: 'num' },
      ], mesh.peers, { testid: 'peers', empty: 'No peer known yet.' }))),
    section('Ledger: balances per peer', table([
      { label: 'Peer', value: (p) => h('code', { title: p.peer }, fmt.short(p.peer, 16)) },
      { label: 'Served (receipts / USD)', value: (p) => `${p.served.receipts} / ${fmt.usd(p.served.total_usd)}`, class: 'num' },
      { label: 'Consumed (receipts / USD)', value: (p) => `${p.consumed.receipts} / ${fmt.usd(p.consumed.total_usd)}`, class: 'num' },
      { label: 'Balance', value: (p) => h('span', { dataset: { balance: p.peer } }, fmt.usd(p.balance_usd)), class: 'num' },
      { label: 'Unacknowledged', value: (p) => fmt.usd(p.served.unacknowledged_usd), class: 'num' },
      { label: 'Disputes', value: (p) => String(Array.isArray(p.disputes) ? p.disputes.length : p.disputes ?? 0), class: 'num' },
      { label: 'Last reconciliation', value: (p) => reconciliation(p.last_reconciliation) },
    ], ledger.data, { testid: 'ledger', empty: 'No receipts exchanged yet.' }),
    h('button', { onclick: async () => {
      try {
        const result = await api('/v1/mesh/reconcile', { method: 'POST', body: {} });
        reconcileResult.replaceChildren(h('p', { class: 'muted' }, `Reconciled with ${result.data.length} peer(s).`));
      } catch (err) {
        reconcileResult.replaceChildren(errorBox(err));
      }
    } }, 'Reconcile now'), reconcileResult),
    section('Receipts', table([
      { label: 'Seq', value: (r) => String(r.seq), class: 'num' },
      { label: 'Issuer → subject', value: (r) => `${fmt.short(r.issuer, 10)} → ${fmt.short(r.subject, 10)}` },
      { label: 'Request', value: (r) => h('code', {}, fmt.short(r.request_id, 14)) },
      { label: 'Model', value: (r) => r.model },
      { label: 'Cost', value: (r) => fmt.usd(r.cost_usd), class: 'num' },
      { label: 'Running total', value: (r) => fmt.usd(r.total_usd), class: 'num' },
      { label: 'Issued', value: (r) => r.issued_at.replace('T', ' ').slice(0, 19) },
      { label: 'Acknowledged', value: (r) => h('span', { class: `pill ${r.acknowledged ? 'ok' : 'warn'}` }, r.acknowledged ? 'yes' : 'no') },
      { label: 'Dispute', value: (r) => r.disputed ?? '–' },
    ], receipts.data.slice(-200).reverse(), { testid: 'receipts', empty: 'No receipts yet.' })),
  );
}
