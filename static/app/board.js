// board.js - the pipeline: one column per stage of the tenant's pipeline,
// totals from /deals/summary, cards paged per column (never every deal),
// drag and drop or the keyboard to move a deal, owner/product filters,
// and a table view of the same deals.
import { h, replace, field, select } from './dom.js';
import { t, tv, fmtMoney, fmtNumber, fmtDate } from './i18n.js';
import { get, request, isAbort, ApiError } from './api.js';
import { users, products, pipeline, can, loadPref, savePref, customerNames, customerName } from './state.js';
import { page, toast, toastError } from './shell.js';
import { message } from './errors.js';
import { stageLabel } from './customer.js';

const PER_COLUMN = 20;

export async function boardView({ signal }) {
  const state = loadPref('pipeline', { view: 'board', filters: {}, sort: '-stage_changed_at' });
  state.filters ||= {};
  const [pipe, userMap, productMap] = await Promise.all([
    pipeline(), users().catch(() => new Map()), products().catch(() => new Map())]);
  if (!pipe) { page(t('pipeline.title'), h('p', null, t('pipeline.none'))); return; }

  const live = h('div', { class: 'sr-only', role: 'status', 'aria-live': 'assertive' });
  const owner = select([['', t('filter.any')], ...[...userMap.values()].map(u => [u.id, u.name])], state.filters.owner_id || '', { name: 'owner_id' });
  const product = select([['', t('filter.any')], ...[...productMap.values()].map(p => [p.id, p.name])], state.filters.product_id || '', { name: 'product_id' });
  const viewSwitch = h('div', { class: 'segmented', role: 'group', 'aria-label': t('pipeline.view') },
    ['board', 'table'].map(v => h('button', { type: 'button', 'aria-pressed': state.view === v ? 'true' : 'false', 'data-view': v,
      onclick: () => { state.view = v; savePref('pipeline', state); draw(); } }, t(`pipeline.view.${v}`))));
  const total = h('p', { class: 'count-line', role: 'status' });
  const body = h('div', { class: 'pipeline-body' });
  const filterQuery = () => {
    const q = { pipeline_id: pipe.id };
    if (state.filters.owner_id) q.owner_id = state.filters.owner_id;
    if (state.filters.product_id) q.product_id = state.filters.product_id;
    return q;
  };
  for (const [k, el] of [['owner_id', owner], ['product_id', product]]) el.addEventListener('change', () => {
    state.filters[k] = el.value;
    savePref('pipeline', state);
    draw();
  });

  page(t('pipeline.title'),
    h('div', { class: 'toolbar' }, total, viewSwitch),
    h('form', { class: 'filters', 'aria-label': t('filter.label'), onsubmit: e => e.preventDefault() },
      field(t('f.owner_id'), owner), field(t('f.product_id'), product)),
    body, live);

  async function draw() {
    for (const b of viewSwitch.querySelectorAll('button')) b.setAttribute('aria-pressed', b.dataset.view === state.view ? 'true' : 'false');
    if (state.view === 'table') await drawTable(body, { filterQuery, state, userMap, productMap, signal, total });
    else await drawBoard(body, { pipe, filterQuery, userMap, productMap, signal, total, live });
  }
  await draw();
}

/* ---------- board ---------- */

async function drawBoard(body, ctx) {
  const { pipe, filterQuery, userMap, productMap, signal, total, live } = ctx;
  const columns = new Map();   // stage key → {el, list, count, amount, after, countEl, amountEl, more}
  const cards = new Map();     // deal id → {deal, el}
  let columnsReady = false;    // names are fetched once every column is drawn
  const board = h('div', { class: 'board', 'data-testid': 'board' });
  replace(body, board);

  // Totals and the first page of every column are fetched at once.
  let summaryKnown = false;
  const summaryP = get('deals/summary', filterQuery(), signal).then(x => { summaryKnown = true; return x; });

  function setTotals(col) {
    col.countEl.textContent = summaryKnown ? fmtNumber(col.count) : '…';
    col.amountEl.textContent = can.seeAmounts() && col.amount !== undefined ? fmtMoney(col.amount) : '';
  }

  for (const s of pipe.stages) {
    const sum = { count: 0, amount: undefined };
    const list = h('ol', { class: 'cards', 'aria-labelledby': `col-${s.key}` });
    const countEl = h('span', { class: 'col-count', 'data-testid': `count-${s.key}` });
    const amountEl = h('span', { class: 'col-amount' });
    const more = h('button', { type: 'button', class: 'more small', hidden: true });
    const el = h('section', { class: `column outcome-${s.outcome || 'open'}`, 'data-stage': s.key, 'aria-labelledby': `col-${s.key}` },
      h('header', { class: 'col-head' },
        h('h2', { id: `col-${s.key}` }, stageLabel(s)),
        h('div', { class: 'col-totals' }, countEl, amountEl)),
      list, more);
    const col = { stage: s, el, list, count: sum.count, amount: sum.amount, after: null, countEl, amountEl, more, loaded: 0 };
    columns.set(s.key, col);
    setTotals(col);
    more.addEventListener('click', () => loadColumn(col));
    // Drop target
    el.addEventListener('dragover', e => {
      if (!e.dataTransfer.types.includes('application/x-axon-deal')) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'move';
      el.classList.add('drop');
    });
    el.addEventListener('dragleave', e => { if (!el.contains(e.relatedTarget)) el.classList.remove('drop'); });
    el.addEventListener('drop', e => {
      e.preventDefault();
      el.classList.remove('drop');
      const id = e.dataTransfer.getData('application/x-axon-deal');
      if (id) move(id, s.key);
    });
    board.appendChild(el);
  }

  async function loadColumn(col) {
    col.more.disabled = true;
    try {
      const q = { ...filterQuery(), stage: col.stage.key, limit: PER_COLUMN, sort: '-stage_changed_at' };
      if (col.after) q.after = col.after;
      const res = await get('deals', q, signal);
      for (const d of res.data) if (!cards.has(d.id)) col.list.appendChild(card(d));
      col.loaded += res.data.length;
      col.after = res.next;
      updateMore(col);
      if (columnsReady) fillCustomerNames(res.data);
    } catch (e) { if (!isAbort(e)) toastError(e); } finally { col.more.disabled = false; }
  }
  function updateMore(col) {
    const rest = Math.max(0, col.count - col.list.children.length);
    col.more.hidden = !col.after;
    col.more.textContent = t('pipeline.more', { n: fmtNumber(rest) });
  }

  async function fillCustomerNames(deals) {
    await customerNames(deals.map(d => d.customer_id), signal);
    requestAnimationFrame(() => {
      for (const d of deals) {
        const c = cards.get(d.id);
        const slot = c?.el.querySelector('.card-customer');
        if (slot && d.customer_id && !slot.firstElementChild) {
          const name = customerName(d.customer_id);
          replace(slot, name ? h('a', { href: `/customers/${encodeURIComponent(d.customer_id)}`, tabindex: '-1' }, name) : '');
        }
      }
    });
  }

  function card(d) {
    const moveSel = select(pipe.stages.map(s => [s.key, stageLabel(s)]), d.stage, { class: 'move-select', 'aria-label': t('pipeline.move-to', { deal: d.name || d.id }) });
    moveSel.addEventListener('change', () => move(d.id, moveSel.value));
    const el = h('li', { class: 'deal-card', tabindex: '0', draggable: can.writeDeals() ? 'true' : null, 'data-id': d.id,
      'aria-describedby': 'board-help', 'aria-label': `${d.name || d.id}` },
      h('div', { class: 'card-title' }, d.name || d.id),
      h('div', { class: 'card-customer muted' }, d.customer_id ? (customerName(d.customer_id) || '…') : ''),
      h('div', { class: 'card-meta' },
        can.seeAmounts() && d.amount !== null && d.amount !== undefined ? h('span', { class: 'card-amount' }, fmtMoney(d.amount, d.currency)) : null,
        d.owner_id ? h('span', { class: 'muted' }, userMap.get(d.owner_id)?.name || '') : null,
        d.product_id ? h('span', { class: 'chip' }, productMap.get(d.product_id)?.name || '') : null),
      can.writeDeals() ? moveSel : null);
    el.addEventListener('dragstart', e => {
      e.dataTransfer.setData('application/x-axon-deal', d.id);
      e.dataTransfer.setData('text/plain', d.name || d.id);
      e.dataTransfer.effectAllowed = 'move';
      el.classList.add('dragging');
    });
    el.addEventListener('dragend', () => el.classList.remove('dragging'));
    el.addEventListener('keydown', e => keyNav(e, d.id));
    cards.set(d.id, { deal: d, el, moveSel });
    return el;
  }

  function keyNav(e, id) {
    if (e.target !== e.currentTarget) return;    // keys inside the select are its own
    const c = cards.get(id);
    const keys = pipe.stages.map(s => s.key);
    const colIdx = keys.indexOf(c.deal.stage);
    if ((e.shiftKey || e.ctrlKey) && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) {
      e.preventDefault();
      const to = keys[colIdx + (e.key === 'ArrowRight' ? 1 : -1)];
      if (to) move(id, to, true);
      return;
    }
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const sib = e.key === 'ArrowDown' ? c.el.nextElementSibling : c.el.previousElementSibling;
      sib?.focus();
    } else if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      e.preventDefault();
      const next = keys[colIdx + (e.key === 'ArrowRight' ? 1 : -1)];
      columns.get(next)?.list.firstElementChild?.focus();
    } else if (e.key === 'Enter' && c.deal.customer_id) {
      c.el.querySelector('.card-customer a')?.click();
    }
  }

  async function move(id, to, keepFocus) {
    const c = cards.get(id);
    if (!c || c.deal.stage === to) return;
    const from = columns.get(c.deal.stage), dest = columns.get(to);
    const amount = Number(c.deal.amount) || 0;
    const shift = (col, sign) => { col.count += sign; if (col.amount !== undefined) col.amount += sign * amount; setTotals(col); updateMore(col); };
    // Optimistic: move the card now, undo if the server says no.
    dest.list.prepend(c.el);
    shift(from, -1); shift(dest, +1);
    c.moveSel.value = to;
    if (keepFocus) c.el.focus();
    try {
      const { data, etag } = await request(`deals/${id}`, { method: 'PATCH', body: { stage: to }, ifMatch: c.deal.version });
      if (etag) data.version = Number(etag);
      c.deal = data;
      live.textContent = t('pipeline.moved', { deal: data.name || id, stage: stageLabel(dest.stage) });
      toast(live.textContent);
      refreshTotals();
    } catch (e) {
      // Put it back where the server has it.
      let now = null;
      try { now = await get(`deals/${id}`); } catch { /* gone */ }
      shift(dest, -1);
      if (now && columns.get(now.stage)) {
        const back = columns.get(now.stage);
        back.list.prepend(c.el);
        shift(back, +1);
        c.deal = now;
        c.moveSel.value = now.stage;
      } else c.el.remove();
      if (keepFocus) c.el.focus();
      const text = e instanceof ApiError && (e.type === 'version-mismatch' || e.type === 'precondition-failed')
        ? t('pipeline.conflict', { stage: now ? tv('stage', now.stage) : '?' }) : message(e);
      live.textContent = text;
      toast(text, 'error');
    }
  }

  async function refreshTotals() {
    try { applySummary(await get('deals/summary', filterQuery(), signal)); } catch (e) { /* totals stay as they are */ }
  }

  body.appendChild(h('p', { id: 'board-help', class: 'hint' }, t('pipeline.help')));
  const applySummary = summary => {
    const byStage = Object.fromEntries(summary.data.map(x => [x.stage, x]));
    total.textContent = t('pipeline.total', { n: fmtNumber(summary.total) });
    for (const col of columns.values()) {
      col.count = byStage[col.stage.key]?.count || 0;
      col.amount = byStage[col.stage.key]?.amount;
      setTotals(col);
      updateMore(col);
    }
  };
  await Promise.all([summaryP.then(applySummary), ...[...columns.values()].map(loadColumn)]);
  // Customer names after the board is on screen (one request per unknown
  // customer: the API has no way to fetch several ids at once).
  columnsReady = true;
  setTimeout(() => fillCustomerNames([...cards.values()].map(c => c.deal)), 0);
}

/* ---------- table ---------- */

async function drawTable(body, ctx) {
  const { filterQuery, state, userMap, productMap, signal, total } = ctx;
  const pipe = await pipeline();
  const stages = Object.fromEntries(pipe.stages.map(s => [s.key, s]));
  const cols = [['name', 'f.deal_name', true], ['customer_id', 'f.customer_id', false], ['stage', 'f.stage', true],
    ...(can.seeAmounts() ? [['amount', 'f.amount', true]] : []), ['owner_id', 'f.owner_id', true],
    ['product_id', 'f.product_id', false], ['close_date', 'f.close_date', true], ['stage_changed_at', 'f.stage_changed_at', true]];
  const thead = h('thead'), tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'more', hidden: true }, t('list.more'));
  const table = h('table', { class: 'grid', 'data-testid': 'deal-table' }, h('caption', { class: 'sr-only' }, t('pipeline.title')), thead, tbody);
  replace(body, h('div', { class: 'table-wrap' }, table), more);
  let after = null;

  function header() {
    const [sf, desc] = state.sort.startsWith('-') ? [state.sort.slice(1), true] : [state.sort, false];
    replace(thead, h('tr', null, cols.map(([k, label, sortable]) => {
      const on = sf === k;
      return h('th', { scope: 'col', 'aria-sort': on ? (desc ? 'descending' : 'ascending') : null, class: k === 'amount' ? 'num' : null },
        sortable ? h('button', { type: 'button', class: 'sort', onclick: () => { state.sort = on && !desc ? `-${k}` : k; savePref('pipeline', state); reload(); } },
          t(label), h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, on ? (desc ? ' ▼' : ' ▲') : '')) : t(label));
    })));
  }
  async function load(first) {
    more.disabled = true;
    try {
      const q = { ...filterQuery(), limit: 50, sort: state.sort };
      if (first) q.count = 'true'; else q.after = after;
      const res = await get('deals', q, signal);
      if (first) { replace(tbody); total.textContent = t('pipeline.total', { n: fmtNumber(res.total ?? res.data.length) }); }
      const rows = res.data.map(d => h('tr', { 'data-id': d.id },
        h('th', { scope: 'row' }, d.name || d.id),
        h('td', { class: 'cust', 'data-cid': d.customer_id || '' }, d.customer_id ? (customerName(d.customer_id) || '…') : ''),
        h('td', null, h('span', { class: `badge stage-${d.stage}` }, stages[d.stage] ? stageLabel(stages[d.stage]) : d.stage)),
        can.seeAmounts() ? h('td', { class: 'num' }, fmtMoney(d.amount, d.currency)) : null,
        h('td', null, userMap.get(d.owner_id)?.name || ''),
        h('td', null, productMap.get(d.product_id)?.name || ''),
        h('td', null, fmtDate(d.close_date)),
        h('td', null, fmtDate(d.stage_changed_at))));
      tbody.append(...rows);
      after = res.next;
      more.hidden = !after;
      await customerNames(res.data.map(d => d.customer_id), signal);
      for (const td of tbody.querySelectorAll('td.cust')) {
        const id = td.dataset.cid;
        if (id && customerName(id) && !td.firstElementChild) replace(td, h('a', { href: `/customers/${encodeURIComponent(id)}` }, customerName(id)));
      }
    } catch (e) { if (!isAbort(e)) toastError(e); } finally { more.disabled = false; }
  }
  function reload() { after = null; header(); load(true); }
  more.addEventListener('click', () => load(false));
  header();
  await load(true);
}
