// state.js - who is signed in, and small reference data every screen uses
// (users, products, the pipeline, custom fields), fetched once per session.
import { get, getAll } from './api.js';

export const session = { user: null, tenant: null, role: null, csrf: null };

let cache = {};
export function resetCache() { cache = {}; }

function once(key, fn) {
  if (!cache[key]) cache[key] = fn().catch(e => { delete cache[key]; throw e; });
  return cache[key];
}

/** Users of the tenant, as a Map id → user. */
export const users = () => once('users', async () => new Map((await getAll('users', { sort: 'name' })).map(u => [u.id, u])));
export const products = () => once('products', async () => new Map((await getAll('products', { sort: 'name' })).map(p => [p.id, p])));
export const customFields = object => once(`fields:${object}`, () => getAll('fields', { object }));

/** The default pipeline (or the first one). */
export const pipeline = () => once('pipeline', async () => {
  const all = await getAll('pipelines');
  return all.find(p => p.is_default) || all[0] || null;
});

/** Customer names by id, fetched on demand and kept for the session. */
const names = new Map();
export function customerName(id) { return names.get(id); }
export function rememberCustomer(c) { if (c && c.id) names.set(c.id, c.name); }
export async function customerNames(ids, signal) {
  const want = [...new Set(ids.filter(id => id && !names.has(id)))];
  const queue = [...want];
  await Promise.all(Array.from({ length: Math.min(6, queue.length) }, async () => {
    while (queue.length) {
      const id = queue.shift();
      try { rememberCustomer(await get(`customers/${id}`, null, signal)); } catch (e) {
        if (e.name === 'AbortError') return;
        names.set(id, null);
      }
    }
  }));
  return names;
}

/** What this role may do (mirrors include/axon/model.h). */
export const can = {
  write: () => ['admin', 'manager', 'sales', 'service'].includes(session.role),
  writeDeals: () => ['admin', 'manager', 'sales'].includes(session.role),
  seeAmounts: () => session.role !== 'service',
  import: () => ['admin', 'manager'].includes(session.role),
};

/** Per-user settings in localStorage (filters, views). */
export function prefKey(name) {
  return `axon.${session.tenant?.slug || '-'}.${session.user?.id || '-'}.${name}`;
}
export function loadPref(name, dflt) {
  try { return JSON.parse(localStorage.getItem(prefKey(name))) ?? dflt; } catch { return dflt; }
}
export function savePref(name, value) { localStorage.setItem(prefKey(name), JSON.stringify(value)); }
