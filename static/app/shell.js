// shell.js - the frame around every screen: header with navigation, global
// search, language switch, who is signed in; the sign-in screen; toasts.
import { h, replace, field, debounce } from './dom.js';
import { t, getLang, setLang, tv } from './i18n.js';
import { request, setCsrf, isAbort } from './api.js';
import { session, resetCache } from './state.js';
import { message, showError, errorBox } from './errors.js';
import { navigate } from './router.js';

export const main = () => document.getElementById('main');

/* ---------- toasts ---------- */
export function toast(text, kind = 'ok') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  box.appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 3500);
}
export function toastError(err) { if (!isAbort(err)) toast(message(err), 'error'); }

/* ---------- page title and heading ---------- */
export function page(title, ...children) {
  document.title = `${title} · Axon`;
  const m = main();
  replace(m, h('h1', { class: 'page-title' }, title), ...children);
  return m;
}

/* ---------- header ---------- */
const NAV = [
  ['/customers', 'nav.customers'],
  ['/pipeline', 'nav.pipeline'],
  ['/tickets', 'nav.tickets'],
  ['/import', 'nav.import'],
];

function langSwitch() {
  const s = h('select', { id: 'lang', class: 'lang', 'aria-label': t('lang.label') },
    h('option', { value: 'zh', lang: 'zh-CN' }, '中文'),
    h('option', { value: 'en', lang: 'en' }, 'English'));
  s.value = getLang();
  s.addEventListener('change', () => setLang(s.value));
  return s;
}

export function renderHeader() {
  const top = document.getElementById('top');
  const signedIn = !!session.tenant;
  const nav = signedIn ? h('nav', { class: 'nav', 'aria-label': t('nav.label') },
    NAV.map(([href, key]) => h('a', { href, dataset: { nav: href } }, t(key)))) : null;
  const who = signedIn ? h('div', { class: 'who' },
    h('span', { class: 'who-name', 'data-testid': 'user-name' }, session.user?.name || session.user?.email || t('who.apikey')),
    h('span', { class: 'badge', 'data-testid': 'user-role', title: t('who.role') }, tv('role', session.role)),
    h('span', { class: 'who-tenant', 'data-testid': 'tenant-name', title: t('who.tenant') }, session.tenant.name),
    h('button', { type: 'button', class: 'link-button', id: 'signout', onclick: signOut }, t('signout'))) : null;
  replace(top,
    h('a', { class: 'brand', href: signedIn ? '/customers' : '/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), 'Axon'),
    nav,
    signedIn ? searchBox() : null,
    h('div', { class: 'top-right' }, langSwitch(), who));
  markNav(location.pathname);
}

export function markNav(path) {
  for (const a of document.querySelectorAll('.nav a')) {
    const on = path === a.dataset.nav || path.startsWith(`${a.dataset.nav}/`);
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

/* ---------- sign in / out ---------- */
export function setSession(s) {
  session.user = s.user;
  session.tenant = s.tenant;
  session.role = s.role;
  session.csrf = s.csrf_token;
  setCsrf(s.csrf_token);
}

export function clearSession() {
  session.user = session.tenant = session.role = session.csrf = null;
  setCsrf(null);
  resetCache();
}

async function signOut() {
  try { await request('session', { method: 'DELETE' }); } catch (e) { /* the session may be gone already */ }
  clearSession();
  dispatchEvent(new Event('axon:signed-out'));
  renderHeader();
  history.pushState(null, '', '/');
  showSignIn();
}

/** The sign-in form; `done(session)` runs after a successful sign-in. */
function signInForm({ notice, done, headingId = 'signin-h', prefill = {} }) {
  const tenant = h('input', { name: 'tenant', autocomplete: 'organization', required: true, value: prefill.tenant ?? localStorage.getItem('axon.tenant') ?? '' });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true, value: prefill.email ?? localStorage.getItem('axon.email') ?? '' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = errorBox();
  const button = h('button', { type: 'submit', class: 'primary' }, t('signin.submit'));
  const form = h('form', { class: 'signin card', 'aria-labelledby': headingId },
    h('h1', { id: headingId }, t('signin.title')),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    field(t('signin.tenant'), tenant, t('signin.tenant-hint')),
    field(t('signin.email'), email),
    field(t('signin.password'), password),
    err, button);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    button.disabled = true;
    err.hidden = true;
    try {
      const { data } = await request('session', { method: 'POST', body: { tenant: tenant.value.trim(), email: email.value.trim(), password: password.value } });
      localStorage.setItem('axon.tenant', tenant.value.trim());
      localStorage.setItem('axon.email', email.value.trim());
      setSession(data);
      done(data);
    } catch (ex) {
      showError(err, ex);
      password.select();
    } finally {
      button.disabled = false;
    }
  });
  form.focusFirst = () => (tenant.value ? (email.value ? password : email) : tenant).focus();
  return form;
}

export function showSignIn(notice) {
  renderHeader();
  document.title = `${t('signin.title')} · Axon`;
  const form = signInForm({
    notice,
    done: () => {
      if (location.pathname === '/' || location.pathname === '/signin') history.replaceState(null, '', '/customers');
      dispatchEvent(new Event('axon:signed-in'));
    },
  });
  replace(main(), h('div', { class: 'signin-wrap' }, form));
  form.focusFirst();
}

/** The session ended while working: sign in again in a dialog over the
 * page, so whatever was typed on the page stays where it is. */
export function reauthenticate() {
  if (document.getElementById('reauth')) return;
  const who = { tenant: session.tenant?.slug, email: session.user?.email };
  const dialog = h('dialog', { id: 'reauth', class: 'reauth', 'aria-labelledby': 'reauth-h' });
  const form = signInForm({
    notice: t('signin.expired'), headingId: 'reauth-h', prefill: who,
    done: () => { dialog.close(); dialog.remove(); renderHeader(); toast(t('signin.again')); },
  });
  dialog.appendChild(form);
  dialog.addEventListener('cancel', e => e.preventDefault());   // signing in is the way out
  document.body.appendChild(dialog);
  dialog.showModal();
  form.focusFirst();
}

/* ---------- global search ---------- */
const GROUPS = ['customer', 'contact', 'ticket', 'activity'];

export function hitLink(r) {
  const rec = r.record || {};
  switch (r.object) {
    case 'customer': return `/customers/${encodeURIComponent(r.id)}`;
    case 'ticket': return `/tickets/${encodeURIComponent(r.id)}`;
    case 'contact': return rec.customer_id ? `/customers/${encodeURIComponent(rec.customer_id)}` : `/search?q=${encodeURIComponent(r.title || '')}`;
    case 'activity':
      if (rec.ticket_id) return `/tickets/${encodeURIComponent(rec.ticket_id)}?activity=${encodeURIComponent(r.id)}`;
      if (rec.customer_id) return `/customers/${encodeURIComponent(rec.customer_id)}?activity=${encodeURIComponent(r.id)}`;
      return `/activities/${encodeURIComponent(r.id)}`;
    default: return '/';
  }
}

/** Snippet segments → text and <mark> nodes (never HTML). */
export function snippet(segments) {
  return (segments || []).map(s => (s.hit ? h('mark', null, s.text) : document.createTextNode(s.text)));
}

function searchBox() {
  const input = h('input', {
    id: 'search', type: 'search', autocomplete: 'off', spellcheck: 'false',
    role: 'combobox', 'aria-expanded': 'false', 'aria-controls': 'search-panel',
    'aria-autocomplete': 'list', placeholder: t('search.placeholder'),
  });
  const panel = h('div', { id: 'search-panel', class: 'search-panel', role: 'listbox', 'aria-label': t('search.results'), hidden: true });
  const status = h('div', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  let controller = null, options = [], active = -1, lastQ = '';

  function close() {
    panel.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }
  function setActive(i) {
    options.forEach((o, k) => o.classList.toggle('active', k === i));
    active = i;
    if (i >= 0) {
      input.setAttribute('aria-activedescendant', options[i].id);
      options[i].scrollIntoView({ block: 'nearest' });
    } else input.removeAttribute('aria-activedescendant');
  }
  async function run(q) {
    if (controller) controller.abort();       // cancel the request in flight
    if (!q) { close(); replace(panel); return; }
    controller = new AbortController();
    const mine = controller;
    panel.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    panel.setAttribute('aria-busy', 'true');
    try {
      const { data } = await request('search', { query: { q, limit: 30 }, signal: mine.signal });
      if (mine !== controller) return;
      lastQ = q;
      options = [];
      const groups = GROUPS.map(g => [g, data.data.filter(r => r.object === g)]).filter(([, rs]) => rs.length);
      let n = 0;
      replace(panel, groups.length ? groups.map(([g, rs]) => h('div', { role: 'group', 'aria-labelledby': `sg-${g}`, class: 'search-group' },
        h('div', { class: 'search-group-title', id: `sg-${g}`, role: 'presentation' }, t(`search.group.${g}`), ' ', h('span', { class: 'count' }, String(rs.length))),
        rs.map(r => {
          const o = h('a', { href: hitLink(r), role: 'option', id: `so-${n++}`, class: 'search-hit', tabindex: '-1', 'data-object': r.object },
            h('span', { class: 'hit-title' }, r.title || tv('kind', r.record?.kind) || r.id),
            h('span', { class: 'hit-snippet' }, snippet(r.snippet)));
          o.addEventListener('click', () => { close(); input.value = ''; });
          options.push(o);
          return o;
        })))
        : h('div', { class: 'search-empty' }, t('search.none', { q })));
      status.textContent = t('search.count', { n: data.data.length });
      setActive(options.length ? 0 : -1);
    } catch (e) {
      if (isAbort(e)) return;
      replace(panel, h('div', { class: 'search-empty error' }, message(e)));
    } finally {
      if (mine === controller) panel.removeAttribute('aria-busy');
    }
  }
  const debounced = debounce(() => run(input.value.trim()), 200);
  input.addEventListener('input', debounced);
  input.addEventListener('focus', () => { if (input.value.trim() && lastQ === input.value.trim() && options.length) { panel.hidden = false; input.setAttribute('aria-expanded', 'true'); } });
  input.addEventListener('keydown', e => {
    if (e.key === 'ArrowDown' && options.length) { e.preventDefault(); setActive((active + 1) % options.length); }
    else if (e.key === 'ArrowUp' && options.length) { e.preventDefault(); setActive((active - 1 + options.length) % options.length); }
    else if (e.key === 'Enter') {
      e.preventDefault();
      if (active >= 0 && options[active] && !panel.hidden) {
        const href = options[active].getAttribute('href');
        close();
        input.value = '';
        navigate(href);
      }
    } else if (e.key === 'Escape') { close(); }
  });
  document.addEventListener('click', e => { if (!e.target.closest('.search')) close(); });
  return h('div', { class: 'search', role: 'search' },
    h('label', { for: 'search', class: 'sr-only' }, t('search.label')),
    input, h('kbd', { class: 'kbd-hint', 'aria-hidden': 'true', title: t('search.shortcut') }, '/'), panel, status);
}

/** `/` focuses the search box unless the user is typing somewhere. */
export function installShortcuts() {
  document.addEventListener('keydown', e => {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
    const el = document.activeElement;
    if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return;
    const s = document.getElementById('search');
    if (s) { e.preventDefault(); s.focus(); s.select(); }
  });
}
