// The operator API, called with the admin key as a bearer header. The key lives in sessionStorage only (gone when
// the tab closes), never in a URL, a cookie or localStorage.
const KEY = 'meshgate.adminKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * API paths are written from the root (`/v1/stats`) and resolved against the page's own address, so a node served
 * under a path prefix by a reverse proxy (at `/gateway/`, say) is called under that prefix too.
 */
const resolve = (path) => new URL(path.replace(/^\//, ''), document.baseURI).href;

function headers(extra = {}) {
  const key = session.key();
  return { ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra };
}

/** A JSON call; throws ApiError with the gateway's message on a non-2xx answer. */
export async function api(path, { method = 'GET', body } = {}) {
  const response = await fetch(resolve(path), {
    method,
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

/** A raw call (streams, headers) with the bearer header. */
export function request(path, init = {}) {
  return fetch(resolve(path), { ...init, headers: headers(init.headers), cache: 'no-store' });
}

/** Downloads an export: fetched with the bearer header, saved from a blob (a plain link could not carry the key). */
export async function download(path, filename) {
  const response = await request(path);
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => undefined));
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  const text = search.toString();
  return text ? `?${text}` : '';
}
