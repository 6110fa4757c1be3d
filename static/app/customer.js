// customer.js - one customer: key and custom fields (editable in place),
// actions (note, call, ticket, deal), the timeline with paging, and the
// record's change history.
import { h, replace, field, select } from './dom.js';
import { t, tv, tOr, fmtMoney, fmtDateTime } from './i18n.js';
import { get, post, request, isAbort } from './api.js';
import { users, products, pipeline, customFields, can, rememberCustomer } from './state.js';
import { page, toast, toastError } from './shell.js';
import { showError, errorBox, message } from './errors.js';
import { recordFields, customSpecs } from './edit.js';
import { actorName } from './people.js';

const KEY_FIELDS = [
  ['name', 'text'], ['kind', 'enum', ['company', 'person']], ['email', 'email'], ['phone', 'text'],
  ['website', 'url'], ['sector', 'text'], ['tier', 'text'], ['region', 'text'], ['country', 'text'],
  ['city', 'text'], ['address', 'text'], ['revenue', 'millions'], ['employees', 'int'],
  ['year_established', 'year'], ['owner_id', 'user'], ['external_id', 'text'],
];

export async function customerView({ params, query, signal }) {
  const id = params[0];
  let res;
  try {
    res = await request(`customers/${id}`, { signal });
  } catch (e) {
    if (isAbort(e)) throw e;
    page(t('customer.title'), h('div', { class: 'error', role: 'alert' }, message(e)), h('p', null, h('a', { href: '/customers' }, t('customer.back'))));
    return;
  }
  const record = res.data;
  if (res.etag) record.version = Number(res.etag);
  rememberCustomer(record);
  const cfields = await customFields('customers').catch(() => []);

  const tierBadge = h('span', { class: 'badge tier', hidden: !record.tier });
  const showTier = r => { tierBadge.textContent = `${t('f.tier')} ${r.tier ?? ''}`; tierBadge.hidden = !r.tier; };
  showTier(record);
  const rec = { object: 'customers', record, onSaved: r => { heading.textContent = r.name; showTier(r); rememberCustomer(r); } };
  const specs = KEY_FIELDS
    .filter(([n]) => n !== 'revenue' || can.seeAmounts())
    .map(([name, type, choices]) => ({ name, type, choices, label: t(`f.${name}`), enumGroup: name === 'kind' ? 'ckind' : undefined }));
  const details = recordFields(rec, specs, { editable: can.write() });
  const custom = cfields.length ? recordFields(rec, customSpecs(cfields), { editable: can.write() }) : null;

  const heading = h('span', { 'data-testid': 'customer-name' }, record.name);
  const timeline = timelineSection(id, signal);
  const found = query.get('activity') ? await foundActivity(query.get('activity'), signal) : null;

  const m = page(record.name);
  replace(m,
    h('nav', { class: 'crumbs', 'aria-label': t('crumbs') }, h('a', { href: '/customers' }, t('customers.title')), ' / '),
    h('h1', { class: 'page-title' }, heading, tierBadge),
    h('div', { class: 'customer-layout' },
      h('aside', { class: 'customer-side' },
        h('section', { class: 'card', 'aria-labelledby': 'h-details' }, h('h2', { id: 'h-details' }, t('customer.details')), details),
        custom ? h('section', { class: 'card', 'aria-labelledby': 'h-custom' }, h('h2', { id: 'h-custom' }, t('customer.custom')), custom) : null,
        historySection('customers', id)),
      h('div', { class: 'customer-main' },
        found,
        can.write() ? actions(record, timeline) : null,
        timeline.section)));
  await timeline.load(true);
}

async function foundActivity(actId, signal) {
  try {
    const a = await get(`activities/${actId}`, null, signal);
    return h('section', { class: 'card found', 'aria-labelledby': 'h-found' },
      h('h2', { id: 'h-found' }, t('customer.found')),
      activityItem(a));
  } catch (e) {
    if (isAbort(e)) throw e;
    return null;
  }
}

/* ---------- timeline ---------- */

const KIND_ICON = { email: '✉', chat: '❝', call: '☎', note: '✎', meeting: '◎', review: '★', sms: '✆', task: '☑' };

function activityItem(a) {
  const text = a.body || '';
  const long = text.length > 400;
  const body = h('p', { class: 'tl-body' }, long ? `${text.slice(0, 400)}…` : text);
  return h('div', { class: 'tl-activity' },
    h('div', { class: 'tl-head' },
      h('span', { class: 'tl-icon', 'aria-hidden': 'true' }, KIND_ICON[a.kind] || '•'),
      h('span', { class: 'tl-kind' }, tv('kind', a.kind)),
      a.subject ? h('strong', { class: 'tl-subject' }, a.subject) : null,
      a.direction ? h('span', { class: 'muted' }, tv('direction', a.direction)) : null,
      h('time', { datetime: a.occurred_at, class: 'muted' }, fmtDateTime(a.occurred_at))),
    text ? body : null,
    long ? h('button', { type: 'button', class: 'link-button', onclick: e => { body.textContent = text; e.target.remove(); } }, t('timeline.show-all')) : null,
    a.ticket_id ? h('a', { href: `/tickets/${encodeURIComponent(a.ticket_id)}`, class: 'tl-link' }, t('timeline.open-ticket')) : null);
}

function timelineItem(item) {
  const r = item.record;
  let content;
  if (item.type === 'activity') content = activityItem(r);
  else if (item.type === 'ticket') {
    content = h('div', null, h('div', { class: 'tl-head' },
      h('span', { class: 'tl-icon', 'aria-hidden': 'true' }, '⚑'),
      h('span', { class: 'tl-kind' }, t('timeline.ticket')),
      h('a', { href: `/tickets/${encodeURIComponent(r.id)}` }, r.subject),
      h('span', { class: `badge status-${r.status}` }, tv('status', r.status)),
      h('span', { class: `badge prio-${r.priority}` }, tv('priority', r.priority)),
      h('time', { datetime: item.at, class: 'muted' }, fmtDateTime(item.at))));
  } else {
    content = h('div', null, h('div', { class: 'tl-head' },
      h('span', { class: 'tl-icon', 'aria-hidden': 'true' }, '◈'),
      h('span', { class: 'tl-kind' }, t('timeline.deal')),
      h('strong', null, r.name || r.id),
      h('span', { class: `badge stage-${r.stage}` }, tv('stage', r.stage)),
      r.amount !== undefined && r.amount !== null ? h('span', null, fmtMoney(r.amount, r.currency)) : null,
      h('time', { datetime: item.at, class: 'muted' }, fmtDateTime(item.at))));
  }
  return h('li', { class: `tl-item tl-${item.type}`, 'data-id': r.id }, content);
}

function timelineSection(customerId, signal) {
  const list = h('ol', { class: 'timeline', 'aria-labelledby': 'h-timeline' });
  const more = h('button', { type: 'button', class: 'more', hidden: true }, t('timeline.more'));
  const section = h('section', { class: 'card', 'aria-labelledby': 'h-timeline' },
    h('h2', { id: 'h-timeline' }, t('timeline.title')), list, more);
  let after = null;
  async function load(first) {
    more.disabled = true;
    try {
      const q = { limit: 20 };
      if (!first && after) q.after = after;
      const res = await get(`customers/${customerId}/timeline`, q, signal);
      if (first) replace(list);
      if (first && !res.data.length) list.appendChild(h('li', { class: 'empty' }, t('timeline.empty')));
      for (const item of res.data) list.appendChild(timelineItem(item));
      after = res.next;
      more.hidden = !after;
    } catch (e) { if (!isAbort(e)) toastError(e); } finally { more.disabled = false; }
  }
  more.addEventListener('click', () => load(false));
  return { section, load, list };
}

/* ---------- actions ---------- */

function actions(customer, timeline) {
  const tabs = [
    ['note', t('action.note')], ['call', t('action.call')], ['ticket', t('action.ticket')],
    ...(can.writeDeals() ? [['deal', t('action.deal')]] : []),
  ];
  const panels = {};
  const tablist = h('div', { role: 'tablist', class: 'tabs', 'aria-label': t('action.label') });
  const tabButtons = tabs.map(([k, label], i) => {
    const b = h('button', { type: 'button', role: 'tab', id: `tab-${k}`, 'aria-controls': `panel-${k}`, 'aria-selected': i === 0 ? 'true' : 'false', tabindex: i === 0 ? '0' : '-1' }, label);
    b.addEventListener('click', () => choose(k));
    b.addEventListener('keydown', e => {
      const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (!d) return;
      e.preventDefault();
      const next = tabs[(i + d + tabs.length) % tabs.length][0];
      choose(next);
      document.getElementById(`tab-${next}`).focus();
    });
    tablist.appendChild(b);
    return b;
  });
  function choose(k) {
    for (const b of tabButtons) {
      const on = b.id === `tab-${k}`;
      b.setAttribute('aria-selected', on ? 'true' : 'false');
      b.tabIndex = on ? 0 : -1;
    }
    for (const [pk, p] of Object.entries(panels)) p.hidden = pk !== k;
  }
  const forms = { note: noteForm, call: callForm, ticket: ticketForm, deal: dealForm };
  for (const [k] of tabs) {
    panels[k] = h('div', { role: 'tabpanel', id: `panel-${k}`, 'aria-labelledby': `tab-${k}`, hidden: k !== tabs[0][0] });
    panels[k].appendChild(forms[k](customer, () => timeline.load(true)));
  }
  return h('section', { class: 'card actions-card', 'aria-label': t('action.label') }, tablist, Object.values(panels));
}

/** A form that posts, keeps what was typed on error, clears on success. */
function actionForm(label, controls, submitLabel, send, done) {
  const err = errorBox();
  const btn = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const form = h('form', { class: 'action-form', 'aria-label': label }, controls.map(([l, el]) => field(l, el)), err, btn);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    err.hidden = true;
    btn.disabled = true;
    try {
      await send();
      form.reset();
      toast(t('action.done'));
      await done();
    } catch (ex) {
      showError(err, ex, k => t(`f.${k}`));
    } finally { btn.disabled = false; }
  });
  return form;
}

function noteForm(c, done) {
  const body = h('textarea', { name: 'body', rows: 3, required: true });
  return actionForm(t('action.note'), [[t('f.note'), body]], t('action.add-note'),
    () => post('activities', { kind: 'note', direction: 'internal', body: body.value, customer_id: c.id }), done);
}

function callForm(c, done) {
  const subject = h('input', { name: 'subject', maxlength: 500 });
  const body = h('textarea', { name: 'body', rows: 3 });
  const direction = select([['outbound', tv('direction', 'outbound')], ['inbound', tv('direction', 'inbound')]], 'outbound', { name: 'direction' });
  return actionForm(t('action.call'), [[t('f.subject'), subject], [t('f.direction'), direction], [t('f.summary'), body]], t('action.log-call'),
    () => post('activities', { kind: 'call', subject: subject.value || null, body: body.value || null, direction: direction.value, customer_id: c.id }), done);
}

function ticketForm(c, done) {
  const subject = h('input', { name: 'subject', required: true, maxlength: 500 });
  const description = h('textarea', { name: 'description', rows: 3 });
  const priority = select(['low', 'medium', 'high', 'critical'].map(p => [p, tv('priority', p)]), 'medium', { name: 'priority' });
  const channel = select(['email', 'phone', 'chat', 'web', 'in_person', 'social_media', 'other'].map(p => [p, tv('channel', p)]), 'phone', { name: 'channel' });
  return actionForm(t('action.ticket'), [[t('f.subject'), subject], [t('f.priority'), priority], [t('f.channel'), channel], [t('f.description'), description]], t('action.open-ticket'),
    () => post('tickets', { subject: subject.value, description: description.value || null, priority: priority.value, channel: channel.value, customer_id: c.id }), done);
}

function dealForm(c, done) {
  const name = h('input', { name: 'name', required: true, maxlength: 300 });
  const amount = h('input', { name: 'amount', type: 'number', min: '0', step: 'any' });
  const product = select([['', '—']], '', { name: 'product_id' });
  const stage = select([], '', { name: 'stage' });
  const close = h('input', { name: 'expected_close_date', type: 'date' });
  products().then(m => { for (const p of m.values()) product.appendChild(h('option', { value: p.id }, p.name)); }).catch(() => {});
  pipeline().then(p => { for (const s of p?.stages || []) stage.appendChild(h('option', { value: s.key }, stageLabel(s))); }).catch(() => {});
  const controls = [[t('f.deal_name'), name], [t('f.product_id'), product], [t('f.stage'), stage], [t('f.expected_close_date'), close]];
  if (can.seeAmounts()) controls.splice(1, 0, [t('f.amount'), amount]);
  return actionForm(t('action.deal'), controls, t('action.create-deal'), () => post('deals', {
    name: name.value, customer_id: c.id, stage: stage.value || undefined,
    amount: amount.value === '' ? null : Number(amount.value),
    product_id: product.value || null, expected_close_date: close.value || null,
  }), done);
}

export function stageLabel(s) {
  const v = tv('stage', s.key);
  return v === s.key ? (s.label || s.key) : v;
}

/* ---------- history ---------- */

export function historySection(object, id) {
  const list = h('ol', { class: 'history' });
  const more = h('button', { type: 'button', class: 'more', hidden: true }, t('history.more'));
  const details = h('details', { class: 'card history-card' },
    h('summary', null, h('h2', { class: 'inline' }, t('history.title'))), list, more);
  let after = null, loaded = false;
  async function load(first) {
    try {
      const [res, userMap] = await Promise.all([get(`${object}/${id}/history`, first ? { limit: 20 } : { limit: 20, after }), users().catch(() => new Map())]);
      if (first) replace(list);
      if (first && !res.data.length) list.appendChild(h('li', { class: 'empty' }, t('history.empty')));
      for (const e of res.data) {
        const who = actorName(e, userMap);
        list.appendChild(h('li', null,
          h('div', { class: 'hist-head' }, h('strong', null, tv('op', e.action)), ' · ', who, ' · ',
            h('time', { datetime: e.at, class: 'muted' }, fmtDateTime(e.at))),
          e.changes ? h('table', { class: 'changes' },
            h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('history.field')), h('th', { scope: 'col' }, t('history.before')), h('th', { scope: 'col' }, t('history.after')))),
            h('tbody', null, Object.entries(e.changes).map(([f, [b, a]]) => h('tr', null,
              h('th', { scope: 'row' }, tOr(`f.${f}`, f)), h('td', null, show(b)), h('td', null, show(a))))))
            : null));
      }
      after = res.next;
      more.hidden = !after;
    } catch (e) { if (!isAbort(e)) toastError(e); }
  }
  details.addEventListener('toggle', () => { if (details.open && !loaded) { loaded = true; load(true); } });
  more.addEventListener('click', () => load(false));
  return details;
}

function show(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
