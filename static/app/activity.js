// activity.js - one activity on its own (a search hit linked to no customer
// or ticket).
import { h } from './dom.js';
import { t, tv, fmtDateTime } from './i18n.js';
import { get, isAbort } from './api.js';
import { page } from './shell.js';
import { message } from './errors.js';

export async function activityView({ params, signal }) {
  let a;
  try { a = await get(`activities/${params[0]}`, null, signal); } catch (e) {
    if (isAbort(e)) throw e;
    page(t('activity.title'), h('div', { class: 'error', role: 'alert' }, message(e)));
    return;
  }
  page(a.subject || tv('kind', a.kind),
    h('section', { class: 'card' },
      h('p', { class: 'muted' }, tv('kind', a.kind), a.direction ? ` · ${tv('direction', a.direction)}` : '', ' · ', h('time', { datetime: a.occurred_at }, fmtDateTime(a.occurred_at))),
      h('p', { class: 'tl-body' }, a.body || ''),
      a.customer_id ? h('p', null, h('a', { href: `/customers/${encodeURIComponent(a.customer_id)}` }, t('activity.open-customer'))) : null,
      a.ticket_id ? h('p', null, h('a', { href: `/tickets/${encodeURIComponent(a.ticket_id)}` }, t('timeline.open-ticket'))) : null));
}
