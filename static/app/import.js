// import.js - CSV import: choose a file, preview the first rows, map each
// column to a field, choose the natural key for upserts, start the job and
// follow its progress, then read or download the rows that failed. Also
// exports any object's list to CSV.
import { h, replace, field, select } from './dom.js';
import { t, tOr, fmtNumber } from './i18n.js';
import { request, get, isAbort, ApiError } from './api.js';
import { customFields } from './state.js';
import { page, toastError } from './shell.js';
import { showError, errorBox } from './errors.js';
import { parseCsv } from './csv.js';

const OBJECTS = ['customers', 'contacts', 'products', 'deals', 'tickets', 'activities'];
const SINGULAR = { customers: 'Customer', contacts: 'Contact', products: 'Product', deals: 'Deal', tickets: 'Ticket', activities: 'Activity' };
// Natural keys (the F_KEY fields of include/axon/model.h).
const KEYS = {
  customers: ['external_id', 'email', 'name'], contacts: ['external_id', 'email', 'name'],
  products: ['external_id', 'sku', 'name'], deals: ['external_id', 'name'], tickets: ['external_id'], activities: ['external_id'],
};

let schemaCache = null;
async function inputFields(object) {
  schemaCache ||= get('/api/v1/openapi.json');
  const doc = await schemaCache;
  const props = doc.components?.schemas?.[`${SINGULAR[object]}Input`]?.properties || {};
  const custom = await customFields(object).catch(() => []);
  return [...Object.keys(props).filter(k => k !== 'attrs'), ...custom.map(f => `attrs.${f.name}`)];
}

const norm = s => s.toLowerCase().replace(/[^a-z0-9\u4e00-\u9fff]+/g, '');

/** Guess a field for a header when the server gave no suggestion. */
function guess(header, fields) {
  const n = norm(header);
  return fields.find(f => norm(f) === n || norm(f.replace(/_id$/, '')) === n) || '';
}

export async function importView({ signal }) {
  const object = select(OBJECTS.map(o => [o, t(`obj.${o}`)]), 'customers', { name: 'object' });
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,text/csv', required: true });
  const err = errorBox();
  const step2 = h('div', { class: 'import-step', hidden: true });
  const step3 = h('section', { class: 'card import-progress', hidden: true, 'aria-labelledby': 'h-progress' });

  async function preview() {
    err.hidden = true;
    step3.hidden = true;
    const f = file.files[0];
    if (!f) { step2.hidden = true; return; }
    let header, rows, suggested = {}, suggestedKey = null, totalRows = null;
    try {
      const form = new FormData();
      form.append('file', f);
      form.append('options', JSON.stringify({ object: object.value }));
      const { data } = await request('imports/preview', { method: 'POST', form, signal });
      header = data.header || data.columns_in_file || [];
      rows = (data.rows || []).map(r => (Array.isArray(r) ? r : header.map(k => r[k] ?? '')));
      suggested = data.suggested?.columns || data.columns || {};
      suggestedKey = data.suggested?.key || null;
      totalRows = data.total_rows ?? null;
    } catch (e) {
      if (isAbort(e)) throw e;
      // The server's preview is not there (or failed): read the start of the file here.
      const text = await f.slice(0, 256 * 1024).text();
      const all = parseCsv(text, 11);
      if (!all.length) { showError(err, e); return; }
      header = all[0];
      rows = all.slice(1, 11);
    }
    const fields = await inputFields(object.value);
    drawMapping(f, header, rows, suggested, suggestedKey, fields, totalRows);
  }

  function drawMapping(f, header, rows, suggested, suggestedKey, fields, totalRows) {
    const maps = header.map((col, i) => {
      const s = suggested[col] || guess(col, fields);
      return select([['', t('import.skip')], ...fields.map(k => [k, k.startsWith('attrs.') ? `${k.slice(6)} (${t('customer.custom')})` : fieldLabel(k)])], s,
        { name: `map-${i}`, 'aria-label': t('import.map-for', { col }) });
    });
    const keySel = select([], '', { name: 'key' });
    function updateKeys() {
      const mapped = new Set(maps.map(m => m.value).filter(Boolean));
      const prev = keySel.value;
      replace(keySel, h('option', { value: '' }, t('import.no-key')),
        KEYS[object.value].filter(k => mapped.has(k)).map(k => h('option', { value: k }, fieldLabel(k))));
      const has = v => [...keySel.options].some(o => o.value === v);
      keySel.value = has(prev) ? prev : has(suggestedKey) ? suggestedKey : (keySel.options[1]?.value || '');
    }
    maps.forEach(m => m.addEventListener('change', updateKeys));
    updateKeys();
    const startErr = errorBox();
    const start = h('button', { type: 'button', class: 'primary', 'data-testid': 'import-start' }, t('import.start'));
    start.addEventListener('click', async () => {
      startErr.hidden = true;
      const columns = {};
      header.forEach((col, i) => { if (maps[i].value) columns[col] = maps[i].value; });
      if (!Object.keys(columns).length) { replace(startErr, h('p', null, t('import.map-something'))); startErr.hidden = false; return; }
      const form = new FormData();
      form.append('file', f);
      form.append('options', JSON.stringify({ object: object.value, key: keySel.value || null, columns }));
      start.disabled = true;
      try {
        const { data: job } = await request('imports', { method: 'POST', form });
        follow(job);
      } catch (e) {
        showError(startErr, e, k => fieldLabel(k));
      } finally { start.disabled = false; }
    });
    replace(step2,
      h('section', { class: 'card', 'aria-labelledby': 'h-map' },
        h('h2', { id: 'h-map' }, t('import.step2')),
        h('p', { class: 'muted' }, t('import.preview-note', { file: f.name })),
        h('div', { class: 'table-wrap' }, h('table', { class: 'grid preview', 'data-testid': 'import-preview' },
          h('caption', { class: 'sr-only' }, t('import.preview')),
          h('thead', null,
            h('tr', null, header.map(col => h('th', { scope: 'col' }, col))),
            h('tr', { class: 'map-row' }, maps.map(m => h('td', null, m)))),
          h('tbody', null, rows.slice(0, 10).map(r => h('tr', null, header.map((_, i) => h('td', null, r[i] ?? ''))))))),
        h('div', { class: 'row' }, field(t('import.key'), keySel, t('import.key-hint'))),
        startErr, start));
    step2.hidden = false;
  }

  function follow(job) {
    const bar = h('progress', { max: '100', value: '0', id: 'import-bar', 'data-testid': 'import-progress' });
    const label = h('div', { class: 'progress-label', 'aria-live': 'polite' });
    const result = h('div');
    replace(step3, h('h2', { id: 'h-progress' }, t('import.step3')),
      h('label', { for: 'import-bar', class: 'sr-only' }, t('import.progress')), bar, label, result);
    step3.hidden = false;
    const show = j => {
      const pct = Math.max(0, Math.min(100, Math.floor(j.percent ?? (j.total ? (100 * j.done) / j.total : 0))));
      bar.value = pct;
      bar.setAttribute('aria-valuetext', `${pct}%`);
      label.textContent = t('import.progress-text', { pct, done: fmtNumber(j.done ?? 0), total: j.total === undefined || j.total === null ? '?' : fmtNumber(j.total), failed: fmtNumber(j.failed ?? 0), status: t(`job.${j.status}`) });
    };
    show(job);
    const poll = async () => {
      if (signal.aborted) return;
      try {
        const j = await get(`jobs/${job.id}`, null, signal);
        show(j);
        if (j.status === 'succeeded' || j.status === 'failed') return finished(j);
      } catch (e) {
        if (isAbort(e)) return;
        if (!(e instanceof ApiError) || e.status >= 500 || e.type === 'network') { toastError(e); }
        else { showError(result, e); return; }
      }
      setTimeout(poll, 400);
    };
    const finished = async j => {
      if (j.status === 'succeeded') { bar.value = 100; show({ ...j, percent: 100 }); }
      const n = k => fmtNumber(j[k] ?? 0);
      const parts = [h('p', { class: j.status === 'succeeded' ? 'ok' : 'error', role: 'status' },
        t(j.status === 'succeeded' ? 'import.done' : 'import.failed', { created: n('created'), updated: n('updated'), unchanged: n('unchanged'), failed: n('failed') }),
        j.error ? ` ${j.error}` : '')];
      if (j.failed > 0) {
        try {
          const errs = await get(`jobs/${job.id}/errors`, { limit: 100 }, signal);
          parts.push(h('h3', null, t('import.errors')),
            h('div', { class: 'table-wrap' }, h('table', { class: 'grid', 'data-testid': 'import-errors' },
              h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('import.row')), h('th', { scope: 'col' }, t('import.field')), h('th', { scope: 'col' }, t('import.problem')))),
              h('tbody', null, errs.data.map(e => h('tr', null, h('td', { class: 'num' }, String(e.row)), h('td', null, e.field || ''), h('td', null, e.message)))))));
        } catch (e) { if (!isAbort(e)) parts.push(h('p', { class: 'error' }, t('import.errors-unavailable'))); }
        parts.push(h('a', { class: 'button', href: `/api/v1/jobs/${encodeURIComponent(job.id)}/errors?format=csv`, download: `import-errors-${job.id}.csv`, 'data-testid': 'import-errors-csv' }, t('import.errors-csv')));
      }
      replace(result, parts);
    };
    setTimeout(poll, 200);
  }

  file.addEventListener('change', preview);
  object.addEventListener('change', () => { if (file.files[0]) preview(); });

  const exportObj = select(OBJECTS.map(o => [o, t(`obj.${o}`)]), 'customers', { name: 'export-object' });
  const exportLink = h('a', { class: 'button', href: '/api/v1/exports/customers', download: 'customers.csv' }, t('import.export-go'));
  exportObj.addEventListener('change', () => { exportLink.href = `/api/v1/exports/${exportObj.value}`; exportLink.download = `${exportObj.value}.csv`; });

  page(t('import.title'),
    h('section', { class: 'card', 'aria-labelledby': 'h-step1' },
      h('h2', { id: 'h-step1' }, t('import.step1')),
      h('div', { class: 'row' }, field(t('import.object'), object), field(t('import.file'), file, t('import.file-hint'))), err),
    step2, step3,
    h('section', { class: 'card', 'aria-labelledby': 'h-export' },
      h('h2', { id: 'h-export' }, t('import.export')),
      h('p', { class: 'muted' }, t('import.export-hint')),
      h('div', { class: 'row' }, field(t('import.export-object'), exportObj), exportLink)));
}

function fieldLabel(k) { return tOr(`f.${k}`, k); }
