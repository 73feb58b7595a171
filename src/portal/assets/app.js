import { api, ApiError, request, session } from './api.js';
import { clear, errorBox, h } from './dom.js';
import { overviewView } from './views/overview.js';
import { tokensView } from './views/tokens.js';
import { modelsView } from './views/models.js';
import { projectsView } from './views/projects.js';
import { recordsView } from './views/records.js';
import { meshView } from './views/mesh.js';
import { playgroundView } from './views/playground.js';
import { askView } from './views/ask.js';
import { routingView } from './views/routing.js';

/** Views by hash route (`#/records?project=alpha`): each is `(main, params) → Promise<void>`. */
const VIEWS = [
  { id: 'overview', label: 'Overview', render: overviewView },
  { id: 'tokens', label: 'Tokens and keys', render: tokensView },
  { id: 'models', label: 'Models', render: modelsView },
  { id: 'projects', label: 'Projects and requesters', render: projectsView },
  { id: 'records', label: 'Records', render: recordsView },
  { id: 'mesh', label: 'Mesh', render: meshView },
  { id: 'routing', label: 'Routing', render: routingView },
  { id: 'playground', label: 'Playground', render: playgroundView },
  { id: 'ask', label: 'Ask', render: askView },
];

const root = document.getElementById('app');

function route() {
  const [path, search] = location.hash.replace(/^#\/?/, '').split('?');
  const view = VIEWS.find((v) => v.id === path) ?? VIEWS[0];
  return { view, params: new URLSearchParams(search ?? '') };
}

function signInScreen(message) {
  const input = h('input', { type: 'password', name: 'admin-key', autocomplete: 'off', placeholder: 'sk-meshgate-…', required: true, id: 'admin-key' });
  const form = h('form', { class: 'signin', onsubmit: async (event) => {
    event.preventDefault();
    session.signIn(input.value.trim());
    await start();
  } },
  h('h1', {}, 'meshgate'),
  h('p', {}, 'Sign in with this node\'s admin key. It is kept in this tab only (sessionStorage) and sent as a bearer header.'),
  h('label', { for: 'admin-key' }, 'Admin key'), input,
  h('button', { type: 'submit' }, 'Sign in'),
  message ? errorBox(message) : null);
  clear(root).append(form);
  input.focus();
}

let shell;

function renderShell(info) {
  const main = h('main', { id: 'view' });
  const nav = h('nav', {}, h('div', { class: 'brand' }, 'meshgate'), h('div', { class: 'node' }, `v${info.version}`),
    VIEWS.map((v) => h('a', { href: `#/${v.id}`, dataset: { view: v.id } }, v.label)),
    h('button', { class: 'signout', onclick: () => { session.signOut(); signInScreen(); } }, 'Sign out'));
  clear(root).append(h('div', { class: 'shell' }, nav, main));
  shell = { nav, main };
}

let renderCount = 0;

async function show() {
  if (!shell) return;
  const { view, params } = route();
  for (const link of shell.nav.querySelectorAll('a')) link.classList.toggle('active', link.dataset.view === view.id);
  const mine = ++renderCount;
  const main = clear(shell.main);
  main.dataset.view = view.id;
  main.dataset.ready = 'false';
  main.append(h('h1', {}, view.label));
  const body = h('div', { class: 'view-body' });
  main.append(body);
  try {
    await view.render(body, params, { navigate: (hash) => { location.hash = hash; } });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signInScreen('The admin key was refused; sign in again.');
    body.append(errorBox(err));
  }
  // The browser test waits for this mark: the view has its data.
  if (mine === renderCount) main.dataset.ready = 'true';
}

async function start() {
  if (!session.key()) return signInScreen();
  try {
    // The token list needs the admin key: a cheap check that the key is right before showing anything.
    await api('/v1/admin/tokens');
  } catch (err) {
    session.signOut();
    return signInScreen(err instanceof ApiError && err.status === 401 ? 'The admin key was refused.' : err);
  }
  const info = await request('/health').then((r) => r.json()).catch(() => ({ version: '?' }));
  renderShell(info);
  await show();
}

window.addEventListener('hashchange', () => void show());
void start();
