// tickets.js - the service queue (priority, status, age) and one ticket:
// its fields, the conversation (activities with this ticket_id) woven with
// status changes from the record's history, and a reply form.
import { h, replace, field, select } from './dom.js';
import { t, tv, fmtAge, ageDays, fmtDateTime, fmtNumber } from './i18n.js';
import { get, post, request, isAbort } from './api.js';
import { users, can, loadPref, savePref, customerNames, customerName, customFields } from './state.js';
import { page, toast, toastError } from './shell.js';
import { showError, errorBox, message } from './errors.js';
import { recordFields, customSpecs } from './edit.js';
import { historySection } from './customer.js';
import { actorName } from './people.js';

const STATUS = ['open', 'pending', 'resolved', 'closed'];
const PRIORITY = ['low', 'medium', 'high', 'critical'];

export async function ticketsView({ signal }) {
  const state = loadPref('tickets', { status: 'active', priority: '', sort: 'opened_at' });
  const userMap = await users().catch(() => new Map());
  const status = select([['active', t('tickets.active')], ['', t('filter.any')], ...STATUS.map(s => [s, tv('status', s)])], state.status, { name: 'status' });
  const priority = select([['', t('filter.any')], ...[...PRIORITY].reverse().map(p => [p, tv('priority', p)])], state.priority, { name: 'priority' });
  const count = h('p', { class: 'count-line', role: 'status' });
  const thead = h('thead'), tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'more', hidden: true }, t('list.more'));
  const exportLink = h('a', { class: 'button', download: 'tickets.csv' }, t('list.export'));
  let after = null, gen = 0;

  const cols = [['subject', 'f.subject', true], ['customer_id', 'f.customer_id', false], ['priority', 'f.priority', false],
    ['status', 'f.status', true], ['opened_at', 'tickets.age', true], ['channel', 'f.channel', false], ['owner_id', 'f.owner_id', false]];

  function query() {
    const q = new URLSearchParams();
    if (state.status === 'active') q.set('status[in]', 'open,pending');
    else if (state.status) q.set('status', state.status);
    if (state.priority) q.set('priority', state.priority);
    q.set('sort', state.sort);
    return q;
  }
  function header() {
    const [sf, desc] = state.sort.startsWith('-') ? [state.sort.slice(1), true] : [state.sort, false];
    replace(thead, h('tr', null, cols.map(([k, label, sortable]) => {
      const on = sf === k;
      // Age sorts the other way round from opened_at: oldest first = longest waiting.
      const ariaSort = on ? ((k === 'opened_at' ? !desc : desc) ? 'descending' : 'ascending') : null;
      return h('th', { scope: 'col', 'aria-sort': ariaSort },
        sortable ? h('button', { type: 'button', class: 'sort', onclick: () => { state.sort = on && !desc ? `-${k}` : k; save(); reload(); } },
          t(label), h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, on ? (ariaSort === 'descending' ? ' ▼' : ' ▲') : '')) : t(label));
    })));
  }
  async function load(first) {
    const g = gen;
    more.disabled = true;
    try {
      const q = query();
      q.set('limit', 50);
      if (first) q.set('count', 'true'); else q.set('after', after);
      const res = await get('tickets', q, signal);
      if (g !== gen) return;
      if (first) {
        replace(tbody);
        count.textContent = t('tickets.count', { n: fmtNumber(res.total ?? res.data.length) });
        if (!res.data.length) tbody.appendChild(h('tr', null, h('td', { colspan: cols.length, class: 'empty' }, t('list.empty'))));
      }
      tbody.append(...res.data.map(tk => h('tr', { 'data-id': tk.id },
        h('th', { scope: 'row' }, h('a', { href: `/tickets/${encodeURIComponent(tk.id)}` }, tk.subject)),
        h('td', { class: 'cust', 'data-cid': tk.customer_id || '' }, tk.customer_id ? (customerName(tk.customer_id) || '…') : ''),
        h('td', null, h('span', { class: `badge prio-${tk.priority}` }, tv('priority', tk.priority))),
        h('td', null, h('span', { class: `badge status-${tk.status}` }, tv('status', tk.status))),
        h('td', { class: ageDays(tk.opened_at) > 7 && ['open', 'pending'].includes(tk.status) ? 'old' : null, title: fmtDateTime(tk.opened_at) }, fmtAge(tk.opened_at)),
        h('td', null, tv('channel', tk.channel)),
        h('td', null, userMap.get(tk.owner_id)?.name || ''))));
      after = res.next;
      more.hidden = !after;
      await customerNames(res.data.map(x => x.customer_id), signal);
      for (const td of tbody.querySelectorAll('td.cust')) {
        const id = td.dataset.cid;
        if (id && customerName(id) && !td.firstElementChild) replace(td, h('a', { href: `/customers/${encodeURIComponent(id)}` }, customerName(id)));
      }
    } catch (e) { if (!isAbort(e)) toastError(e); } finally { more.disabled = false; }
  }
  function save() {
    savePref('tickets', state);
    const q = query();
    exportLink.href = `/api/v1/exports/tickets?${q}`;
  }
  function reload() { gen++; after = null; header(); load(true); }
  status.addEventListener('change', () => { state.status = status.value; save(); reload(); });
  priority.addEventListener('change', () => { state.priority = priority.value; save(); reload(); });
  more.addEventListener('click', () => load(false));
  save();
  page(t('tickets.title'),
    h('div', { class: 'toolbar' }, count, h('div', { class: 'actions' }, exportLink)),
    h('form', { class: 'filters', 'aria-label': t('filter.label'), onsubmit: e => e.preventDefault() },
      field(t('f.status'), status), field(t('f.priority'), priority)),
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid', 'data-testid': 'ticket-table' }, h('caption', { class: 'sr-only' }, t('tickets.title')), thead, tbody)),
    more);
  header();
  await load(true);
}

/* ---------- one ticket ---------- */

export async function ticketView({ params, query, signal }) {
  const id = params[0];
  let res;
  try { res = await request(`tickets/${id}`, { signal }); } catch (e) {
    if (isAbort(e)) throw e;
    page(t('ticket.title'), h('div', { class: 'error', role: 'alert' }, message(e)), h('p', null, h('a', { href: '/tickets' }, t('tickets.title'))));
    return;
  }
  const ticket = res.data;
  if (res.etag) ticket.version = Number(res.etag);
  const cfields = await customFields('tickets').catch(() => []);
  if (ticket.customer_id) await customerNames([ticket.customer_id], signal);

  const conv = conversation(ticket, signal, query.get('activity'));
  const rec = { object: 'tickets', record: ticket, onSaved: r => { statusBadge.className = `badge status-${r.status}`; statusBadge.textContent = tv('status', r.status); conv.load(); } };
  const specs = [
    { name: 'status', type: 'enum', choices: STATUS }, { name: 'priority', type: 'enum', choices: PRIORITY },
    { name: 'channel', type: 'enum', choices: ['email', 'phone', 'chat', 'social_media', 'web', 'in_person', 'other'] },
    { name: 'type', type: 'text' }, { name: 'owner_id', type: 'user' },
    { name: 'opened_at', type: 'datetime', readonly: true }, { name: 'first_response_at', type: 'datetime', readonly: true },
    { name: 'resolved_at', type: 'datetime', readonly: true }, { name: 'satisfaction', type: 'number' },
    { name: 'resolution', type: 'longtext' },
  ].map(s => ({ ...s, label: t(`f.${s.name}`) }));
  const statusBadge = h('span', { class: `badge status-${ticket.status}`, 'data-testid': 'ticket-status' }, tv('status', ticket.status));

  page(ticket.subject);
  const m = document.getElementById('main');
  replace(m,
    h('nav', { class: 'crumbs', 'aria-label': t('crumbs') }, h('a', { href: '/tickets' }, t('tickets.title')), ' / '),
    h('h1', { class: 'page-title' }, h('span', null, ticket.subject), statusBadge,
      h('span', { class: `badge prio-${ticket.priority}` }, tv('priority', ticket.priority))),
    h('div', { class: 'customer-layout' },
      h('aside', { class: 'customer-side' },
        h('section', { class: 'card', 'aria-labelledby': 'h-tdetails' }, h('h2', { id: 'h-tdetails' }, t('ticket.details')),
          ticket.customer_id ? h('p', null, t('f.customer_id'), ': ', h('a', { href: `/customers/${encodeURIComponent(ticket.customer_id)}` }, customerName(ticket.customer_id) || ticket.customer_id)) : null,
          recordFields(rec, specs, { editable: can.write() })),
        cfields.length ? h('section', { class: 'card' }, h('h2', null, t('customer.custom')), recordFields(rec, customSpecs(cfields), { editable: can.write() })) : null,
        historySection('tickets', id)),
      h('div', { class: 'customer-main' },
        ticket.description ? h('section', { class: 'card', 'aria-labelledby': 'h-desc' }, h('h2', { id: 'h-desc' }, t('f.description')), h('p', { class: 'tl-body' }, ticket.description)) : null,
        conv.section,
        can.write() ? replyForm(ticket, () => conv.load()) : null)));
  await conv.load();
}

function conversation(ticket, signal, highlight) {
  const list = h('ol', { class: 'conversation', 'aria-labelledby': 'h-conv' });
  const more = h('button', { type: 'button', class: 'more', hidden: true }, t('timeline.more'));
  const section = h('section', { class: 'card', 'aria-labelledby': 'h-conv' }, h('h2', { id: 'h-conv' }, t('ticket.conversation')), list, more);
  let acts = [], after = null, statusEvents = [];
  const userMap = users().catch(() => new Map());

  function draw(um) {
    const last = after && acts.length ? acts[acts.length - 1].occurred_at : null;
    const items = [
      ...acts.map(a => ({ at: a.occurred_at, a })),
      ...statusEvents.filter(e => !last || e.at <= last).map(e => ({ at: e.at, e })),
      { at: ticket.opened_at, opened: true },
    ].sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0));
    replace(list, items.map(it => {
      if (it.opened) return h('li', { class: 'conv-event' }, t('ticket.opened'), ' · ', h('time', { datetime: it.at }, fmtDateTime(it.at)));
      if (it.e) {
        const [from, to] = it.e.changes.status;
        const who = actorName(it.e, um);
        return h('li', { class: 'conv-event', 'data-testid': 'status-change' }, t('ticket.status-changed', { from: tv('status', from) || '—', to: tv('status', to), who }), ' · ', h('time', { datetime: it.at }, fmtDateTime(it.at)));
      }
      const a = it.a;
      return h('li', { class: `conv-msg dir-${a.direction || 'internal'}${a.id === highlight ? ' highlight' : ''}`, 'data-id': a.id },
        h('div', { class: 'tl-head' }, h('strong', null, tv('kind', a.kind)), a.direction ? h('span', { class: 'muted' }, tv('direction', a.direction)) : null,
          a.subject ? h('span', null, a.subject) : null, h('time', { class: 'muted', datetime: a.occurred_at }, fmtDateTime(a.occurred_at))),
        a.body ? h('p', { class: 'tl-body' }, a.body) : null);
    }));
  }
  async function load() {
    try {
      const [page1, hist, um] = await Promise.all([
        get('activities', { ticket_id: ticket.id, sort: 'occurred_at', limit: 50 }, signal),
        get(`tickets/${ticket.id}/history`, { limit: 200 }, signal),
        userMap]);
      acts = page1.data;
      after = page1.next;
      statusEvents = hist.data.filter(e => e.action === 'update' && e.changes && e.changes.status);
      more.hidden = !after;
      draw(um);
    } catch (e) { if (!isAbort(e)) toastError(e); }
  }
  more.addEventListener('click', async () => {
    try {
      const res = await get('activities', { ticket_id: ticket.id, sort: 'occurred_at', limit: 50, after }, signal);
      acts.push(...res.data);
      after = res.next;
      more.hidden = !after;
      draw(await userMap);
    } catch (e) { toastError(e); }
  });
  return { section, load };
}

function replyForm(ticket, done) {
  const kind = select(['email', 'chat', 'call', 'note'].map(k => [k, tv('kind', k)]), 'email', { name: 'kind' });
  const direction = select(['outbound', 'inbound', 'internal'].map(k => [k, tv('direction', k)]), 'outbound', { name: 'direction' });
  const body = h('textarea', { name: 'body', rows: 4, required: true });
  const err = errorBox();
  const btn = h('button', { type: 'submit', class: 'primary' }, t('ticket.send'));
  const form = h('form', { class: 'card action-form', 'aria-labelledby': 'h-reply' }, h('h2', { id: 'h-reply' }, t('ticket.reply')),
    h('div', { class: 'row' }, field(t('f.kind'), kind), field(t('f.direction'), direction)),
    field(t('f.message'), body), err, btn);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    err.hidden = true;
    btn.disabled = true;
    try {
      await post('activities', { kind: kind.value, direction: direction.value, body: body.value, ticket_id: ticket.id, customer_id: ticket.customer_id || null });
      body.value = '';
      toast(t('action.done'));
      await done();
    } catch (ex) { showError(err, ex, k => t(`f.${k}`)); } finally { btn.disabled = false; }
  });
  return form;
}
