// api.js - the one place that talks to /api/v1. Adds the CSRF token to
// unsafe requests, turns RFC 9457 problems into ApiError, and reports an
// ended session so the shell can ask the user to sign in again.

let csrfToken = null;
const listeners = new Set();

export function setCsrf(token) { csrfToken = token; }
export function onUnauthenticated(fn) { listeners.add(fn); }

export class ApiError extends Error {
  constructor({ status = 0, type = 'network', detail = '', fields = [], requestId = null } = {}) {
    super(detail || type);
    this.status = status;
    this.type = type;          // problem slug: "version-mismatch", "validation-error", "network" …
    this.detail = detail;
    this.fields = fields;      // [{pointer: "/email", detail}]
    this.requestId = requestId;
  }
}

/**
 * request(path, {method, body, form, signal, ifMatch, query}) → {data, etag, status}
 * `body` is sent as JSON, `form` (FormData) as multipart. `query` is an
 * object or URLSearchParams appended to the path.
 */
export async function request(path, opts = {}) {
  const { method = 'GET', body, form, signal, ifMatch, query } = opts;
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (ifMatch !== undefined && ifMatch !== null) headers['If-Match'] = `"${ifMatch}"`;
  let url = path.startsWith('/') ? path : `/api/v1/${path}`;
  if (query) {
    const qs = new URLSearchParams(query).toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  let res;
  try {
    res = await fetch(url, {
      method, headers, signal, credentials: 'same-origin',
      body: form ?? (body !== undefined ? JSON.stringify(body) : undefined),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError({ type: 'network', detail: String(e.message || e) });
  }
  const etag = res.headers.get('ETag');
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) {
    const p = data && typeof data === 'object' ? data : {};
    const err = new ApiError({
      status: res.status,
      type: typeof p.type === 'string' ? p.type.replace(/^.*\/problems\//, '') : `http-${res.status}`,
      detail: typeof p.detail === 'string' ? p.detail : '',
      fields: Array.isArray(p.errors) ? p.errors : [],
      requestId: p.request_id || res.headers.get('X-Request-Id'),
    });
    if (res.status === 401 && !path.endsWith('/session')) for (const fn of listeners) fn(err);
    throw err;
  }
  return { data, etag: etag ? etag.replace(/^W\//, '').replace(/"/g, '') : null, status: res.status };
}

export async function get(path, query, signal) {
  return (await request(path, { query, signal })).data;
}
export async function post(path, body) { return (await request(path, { method: 'POST', body })).data; }
export async function patch(path, body, version) {
  return (await request(path, { method: 'PATCH', body, ifMatch: version })).data;
}

/** Every page of a list (small lists only: users, products, fields). */
export async function getAll(object, query = {}, signal, max = 1000) {
  const out = [];
  let after = null;
  do {
    const page = await get(object, { ...query, limit: 200, ...(after ? { after } : {}) }, signal);
    out.push(...page.data);
    after = page.next;
  } while (after && out.length < max);
  return out;
}

export function isAbort(e) { return e && e.name === 'AbortError'; }
