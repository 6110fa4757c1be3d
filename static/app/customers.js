// customers.js - the customer list: sortable columns, filters saved per
// user, cursor paging with infinite scroll, a count, CSV export, and a
// form to add a customer.
import { h, replace, field, select, debounce } from './dom.js';
import { t, fmtNumber, fmtMoney } from './i18n.js';
import { get, post, isAbort } from './api.js';
import { users, can, loadPref, savePref, rememberCustomer } from './state.js';
import { page, toastError } from './shell.js';
import { showError, errorBox } from './errors.js';
import { navigate } from './router.js';

const FILTERS = ['region', 'sector', 'tier', 'owner_id'];
const PAGE = 50;

function columns() {
  return [
    ['name', 'f.name', true],
    ['sector', 'f.sector', true],
    ['region', 'f.region', true],
    ['tier', 'f.tier', true],
    ['country', 'f.country', true],
    ['employees', 'f.employees', true],
    can.seeAmounts() ? ['revenue', 'f.revenue', true] : null,
    ['owner_id', 'f.owner_id', true],
  ].filter(Boolean);
}

/** The list query (filters, sort) as URLSearchParams, shared with export. */
export function listQuery(state) {
  const q = new URLSearchParams();
  for (const k of FILTERS) if (state.filters[k]) q.set(k, state.filters[k]);
  if (state.filters.name) q.set('name[contains]', state.filters.name);
  if (state.sort) q.set('sort', state.sort);
  return q;
}

export async function customersView({ signal }) {
  const state = loadPref('customers.list', { filters: {}, sort: 'name' });
  state.filters ||= {};
  const userMap = await users().catch(() => new Map());
  const seen = { region: new Set(), sector: new Set(), tier: new Set(['A', 'B', 'C']) };

  const count = h('p', { class: 'count-line', role: 'status', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const thead = h('thead');
  const table = h('table', { class: 'grid', 'aria-describedby': 'cust-count' }, h('caption', { class: 'sr-only' }, t('customers.title')), thead, tbody);
  count.id = 'cust-count';
  const more = h('button', { type: 'button', class: 'more', hidden: true }, t('list.more'));
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  const exportLink = h('a', { class: 'button', download: 'customers.csv' }, t('list.export'));

  // Filters
  const inputs = {};
  const lists = {};
  for (const k of ['region', 'sector', 'tier']) {
    lists[k] = h('datalist', { id: `dl-${k}` });
    inputs[k] = h('input', { type: 'text', list: `dl-${k}`, value: state.filters[k] || '', name: k, autocomplete: 'off' });
  }
  inputs.owner_id = select([['', t('filter.any')], ...[...userMap.values()].map(u => [u.id, u.name])], state.filters.owner_id || '', { name: 'owner_id' });
  inputs.name = h('input', { type: 'search', name: 'name', value: state.filters.name || '', autocomplete: 'off' });
  const reset = h('button', { type: 'button', class: 'link-button' }, t('filter.clear'));
  const filterForm = h('form', { class: 'filters', 'aria-label': t('filter.label'), onsubmit: e => e.preventDefault() },
    field(t('filter.name'), inputs.name),
    field(t('f.region'), inputs.region), field(t('f.sector'), inputs.sector),
    field(t('f.tier'), inputs.tier), field(t('f.owner_id'), inputs.owner_id),
    reset, Object.values(lists));

  let after = null, loading = false, generation = 0;

  function headerRow() {
    const [sortField, desc] = state.sort?.startsWith('-') ? [state.sort.slice(1), true] : [state.sort, false];
    replace(thead, h('tr', null, columns().map(([k, label, sortable]) => {
      const sorted = sortField === k;
      const th = h('th', { scope: 'col', 'aria-sort': sorted ? (desc ? 'descending' : 'ascending') : null, class: ['employees', 'revenue'].includes(k) ? 'num' : null });
      if (!sortable) return th.appendChild(document.createTextNode(t(label))) && th;
      th.appendChild(h('button', { type: 'button', class: 'sort', 'data-sort': k, onclick: () => {
        state.sort = sorted && !desc ? `-${k}` : k;
        save(); reload();
      } }, t(label), h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, sorted ? (desc ? ' ▼' : ' ▲') : '')));
      return th;
    })));
  }

  function row(c) {
    rememberCustomer(c);
    for (const k of ['region', 'sector', 'tier']) if (c[k] && !seen[k].has(c[k])) {
      seen[k].add(c[k]);
      lists[k].appendChild(h('option', { value: c[k] }));
    }
    const owner = c.owner_id ? userMap.get(c.owner_id)?.name || '' : '';
    const cells = {
      name: h('a', { href: `/customers/${encodeURIComponent(c.id)}` }, c.name),
      employees: fmtNumber(c.employees),
      revenue: c.revenue === null || c.revenue === undefined ? '' : fmtMoney(c.revenue * 1e6),
      owner_id: owner,
    };
    return h('tr', { 'data-id': c.id }, columns().map(([k]) =>
      h(k === 'name' ? 'th' : 'td', { scope: k === 'name' ? 'row' : null, class: ['employees', 'revenue'].includes(k) ? 'num' : null }, cells[k] ?? (c[k] ?? ''))));
  }

  async function load(first) {
    if (loading && !first) return;
    loading = true;
    const gen = generation;
    const q = listQuery(state);
    q.set('limit', PAGE);
    if (first) q.set('count', 'true');
    else q.set('after', after);
    more.disabled = true;
    try {
      const res = await get('customers', q, signal);
      if (gen !== generation) return;
      if (first) {
        replace(tbody);
        count.textContent = t('customers.count', { n: fmtNumber(res.total ?? res.data.length) });
        if (!res.data.length) tbody.appendChild(h('tr', null, h('td', { colspan: columns().length, class: 'empty' }, t('list.empty'))));
      }
      for (const c of res.data) tbody.appendChild(row(c));
      after = res.next;
      more.hidden = !after;
    } catch (e) {
      if (!isAbort(e)) toastError(e);
    } finally {
      if (gen === generation) { loading = false; more.disabled = false; }
    }
  }

  function save() {
    savePref('customers.list', state);
    const q = listQuery(state);
    exportLink.href = `/api/v1/exports/customers${q.toString() ? `?${q}` : ''}`;
  }
  function reload() { generation++; loading = false; after = null; headerRow(); load(true); }

  const onFilter = debounce(() => {
    for (const k of [...FILTERS, 'name']) state.filters[k] = inputs[k].value.trim();
    save(); reload();
  }, 250);
  for (const k of [...FILTERS, 'name']) inputs[k].addEventListener(k === 'owner_id' ? 'change' : 'input', onFilter);
  reset.addEventListener('click', () => {
    for (const k of [...FILTERS, 'name']) inputs[k].value = '';
    state.filters = {};
    save(); reload();
  });
  more.addEventListener('click', () => load(false));
  const io = new IntersectionObserver(entries => {
    if (entries.some(e => e.isIntersecting) && after && !loading) load(false);
  }, { rootMargin: '400px' });
  io.observe(sentinel);
  signal.addEventListener('abort', () => io.disconnect());

  save();
  page(t('customers.title'),
    h('div', { class: 'toolbar' }, count, h('div', { class: 'actions' }, can.write() ? newCustomerButton() : null, exportLink)),
    filterForm,
    h('div', { class: 'table-wrap' }, table), more, sentinel);
  headerRow();
  await load(true);
}

function newCustomerButton() {
  const b = h('button', { type: 'button', class: 'primary', 'aria-expanded': 'false' }, t('customers.new'));
  b.addEventListener('click', () => {
    const existing = document.getElementById('new-customer');
    if (existing) { existing.remove(); b.setAttribute('aria-expanded', 'false'); return; }
    b.setAttribute('aria-expanded', 'true');
    const inputs = {
      name: h('input', { name: 'name', required: true, maxlength: 300 }),
      sector: h('input', { name: 'sector' }),
      region: h('input', { name: 'region' }),
      tier: h('input', { name: 'tier', maxlength: 40 }),
      email: h('input', { name: 'email', type: 'email' }),
    };
    const err = errorBox();
    const form = h('form', { id: 'new-customer', class: 'card inline-form', 'aria-label': t('customers.new') },
      Object.entries(inputs).map(([k, el]) => field(t(`f.${k}`), el)), err,
      h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, t('action.create')),
        h('button', { type: 'button', onclick: () => { form.remove(); b.setAttribute('aria-expanded', 'false'); b.focus(); } }, t('action.cancel'))));
    form.addEventListener('submit', async e => {
      e.preventDefault();
      const body = {};
      for (const [k, el] of Object.entries(inputs)) if (el.value.trim()) body[k] = el.value.trim();
      try {
        const c = await post('customers', body);
        navigate(`/customers/${encodeURIComponent(c.id)}`);
      } catch (ex) { showError(err, ex, k => t(`f.${k}`)); }
    });
    document.querySelector('.toolbar').after(form);
    inputs.name.focus();
  });
  return b;
}
