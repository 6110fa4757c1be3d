// edit.js - a record's fields shown as a definition list, each editable in
// place. Saves send If-Match with the version the user saw; when someone
// else saved first (412), the user sees their change and who made it, and
// chooses: keep theirs, or apply mine on top of it. Typed text is kept.
import { h, replace, select } from './dom.js';
import { t, tv, fmtNumber, fmtMoney, fmtDate, fmtDateTime } from './i18n.js';
import { request, get, ApiError } from './api.js';
import { users } from './state.js';
import { toast } from './shell.js';
import { showError, errorBox } from './errors.js';
import { actorName } from './people.js';

/**
 * Field spec: {name, label, type: text|longtext|number|int|enum|user|date|bool|email|money,
 *              choices?: [..], attr?: true, readonly?: true, enumGroup?: 'priority'}
 * rec: {object: 'customers', record, onSaved(record)}
 */
export function recordFields(rec, specs, { editable = true } = {}) {
  const dl = h('dl', { class: 'fields' });
  const rows = new Map();
  let userMap = new Map();
  users().then(m => { userMap = m; for (const r of rows.values()) r.refresh(); }).catch(() => {});

  const valueOf = (spec, record) => (spec.attr ? record.attrs?.[spec.name] : record[spec.name]);

  function display(spec, v) {
    if (v === null || v === undefined || v === '') return h('span', { class: 'muted' }, '—');
    switch (spec.type) {
      case 'user': return userMap.get(v)?.name || v;
      case 'enum': return tv(spec.enumGroup || spec.name, v);
      case 'number': case 'int': return fmtNumber(v);
      case 'year': return String(v);
      case 'money': return fmtMoney(v, rec.record.currency || 'USD');
      case 'millions': return fmtMoney(v * 1e6);
      case 'date': return fmtDate(v);
      case 'datetime': return fmtDateTime(v);
      case 'bool': return v ? t('yes') : t('no');
      case 'email': return h('a', { href: `mailto:${v}` }, v);
      case 'url': return /^https?:\/\//i.test(v) ? h('a', { href: v, rel: 'noopener noreferrer', target: '_blank' }, v) : v;
      default: return String(v);
    }
  }

  function control(spec, v, id) {
    const props = { id, name: spec.name, class: 'edit-input' };
    switch (spec.type) {
      case 'enum': return select([['', '—'], ...spec.choices.map(c => [c, tv(spec.enumGroup || spec.name, c)])], v ?? '', props);
      case 'user': return select([['', '—'], ...[...userMap.values()].map(u => [u.id, u.name])], v ?? '', props);
      case 'bool': return select([['', '—'], ['true', t('yes')], ['false', t('no')]], v === null || v === undefined ? '' : String(v), props);
      case 'longtext': return h('textarea', { ...props, rows: 4 }, v ?? '');
      case 'number': case 'int': case 'year': case 'money': case 'millions':
        return h('input', { ...props, type: 'number', step: spec.type === 'int' || spec.type === 'year' ? '1' : 'any', value: v ?? '' });
      case 'date': return h('input', { ...props, type: 'date', value: v ?? '' });
      case 'email': return h('input', { ...props, type: 'email', value: v ?? '' });
      default: return h('input', { ...props, type: 'text', value: v ?? '' });
    }
  }

  function parse(spec, el) {
    const s = el.value.trim();
    if (s === '') return null;
    switch (spec.type) {
      case 'number': case 'money': case 'millions': return Number(s);
      case 'int': case 'year': return Math.trunc(Number(s));
      case 'bool': return s === 'true';
      default: return s;
    }
  }

  const body = (spec, v) => (spec.attr ? { attrs: { [spec.name]: v } } : { [spec.name]: v });

  async function save(spec, v) {
    const { data, etag } = await request(`${rec.object}/${rec.record.id}`, { method: 'PATCH', body: body(spec, v), ifMatch: rec.record.version });
    if (etag) data.version = Number(etag);
    rec.record = data;
    for (const r of rows.values()) r.refresh();
    rec.onSaved?.(data);
    return data;
  }

  /** Who last changed this field, from the record's history. */
  async function lastChange(spec) {
    try {
      const hist = await get(`${rec.object}/${rec.record.id}/history`, { limit: 20 });
      const key = spec.attr ? 'attrs' : spec.name;
      const e = hist.data.find(x => x.changes && key in x.changes);
      if (!e) return null;
      const who = actorName(e, userMap);
      return { who, at: e.at };
    } catch { return null; }
  }

  function makeRow(spec) {
    const dd = h('dd');
    const dt = h('dt', { id: `lbl-${spec.name}` }, spec.label);
    let editing = null;

    function refresh() {
      if (editing) return;
      const v = valueOf(spec, rec.record);
      const editBtn = editable && !spec.readonly
        ? h('button', { type: 'button', class: 'edit-btn', 'aria-label': t('edit.field', { field: spec.label }), title: t('edit.field', { field: spec.label }), onclick: startEdit }, '✎')
        : null;
      replace(dd, h('span', { class: 'value', 'data-field': spec.name }, display(spec, v)), editBtn);
    }

    function startEdit() {
      const id = `edit-${spec.name}`;
      const el = control(spec, valueOf(spec, rec.record), id);
      el.setAttribute('aria-labelledby', `lbl-${spec.name}`);
      const err = errorBox();
      const conflict = h('div', { class: 'conflict', hidden: true, role: 'alert' });
      const saveBtn = h('button', { type: 'submit', class: 'primary small' }, t('action.save'));
      const form = h('form', { class: 'edit-form' }, el,
        h('span', { class: 'buttons' }, saveBtn, h('button', { type: 'button', class: 'small', onclick: cancel }, t('action.cancel'))),
        err, conflict);
      editing = form;

      function cancel() { editing = null; refresh(); dd.querySelector('.edit-btn')?.focus(); }

      async function submit(force) {
        err.hidden = true;
        saveBtn.disabled = true;
        const mine = parse(spec, el);
        try {
          await save(spec, mine);
          editing = null;
          refresh();
          toast(t('edit.saved', { field: spec.label }));
          dd.querySelector('.edit-btn')?.focus();
        } catch (e) {
          if (e instanceof ApiError && (e.type === 'version-mismatch' || e.type === 'precondition-failed')) {
            await showConflict(mine);
          } else showError(err, e, () => spec.label);
        } finally { saveBtn.disabled = false; }
      }

      async function showConflict(mine) {
        // Read what is there now; show the other person's change beside ours.
        let fresh;
        try {
          const r = await request(`${rec.object}/${rec.record.id}`);
          fresh = r.data;
          if (r.etag) fresh.version = Number(r.etag);
        } catch (e) { showError(err, e); return; }
        const theirs = valueOf(spec, fresh);
        rec.record = fresh;
        for (const r of rows.values()) if (r !== row) r.refresh();
        rec.onSaved?.(fresh);
        const change = await lastChange(spec);
        replace(conflict,
          h('p', { class: 'conflict-title' }, h('strong', null, t('conflict.title'))),
          h('p', null, change ? t('conflict.by', { who: change.who, when: fmtDateTime(change.at) }) : t('conflict.someone')),
          h('dl', { class: 'conflict-values' },
            h('dt', null, t('conflict.theirs')), h('dd', { 'data-testid': 'conflict-theirs' }, display(spec, theirs)),
            h('dt', null, t('conflict.mine')), h('dd', { 'data-testid': 'conflict-mine' }, display(spec, mine))),
          h('div', { class: 'buttons' },
            h('button', { type: 'button', class: 'small', onclick: () => { editing = null; refresh(); toast(t('conflict.kept')); } }, t('conflict.keep-theirs')),
            h('button', { type: 'button', class: 'primary small', onclick: () => submit(true) }, t('conflict.use-mine'))));
        conflict.hidden = false;
      }

      form.addEventListener('submit', e => { e.preventDefault(); submit(false); });
      form.addEventListener('keydown', e => { if (e.key === 'Escape') { e.preventDefault(); cancel(); } });
      replace(dd, form);
      el.focus();
    }

    const row = { refresh, dt, dd };
    refresh();
    return row;
  }

  for (const spec of specs) {
    const r = makeRow(spec);
    rows.set(spec.name + (spec.attr ? '@attr' : ''), r);
    dl.append(r.dt, r.dd);
  }
  dl.refreshAll = () => { for (const r of rows.values()) r.refresh(); };
  return dl;
}

/** Custom fields of an object as field specs. */
export function customSpecs(fields) {
  const map = { text: 'text', number: 'number', date: 'date', bool: 'bool', enum: 'enum' };
  return fields.map(f => ({
    name: f.name, label: f.label || f.name, type: map[f.type] || 'text', attr: true,
    choices: Array.isArray(f.options) ? f.options.map(String) : [], enumGroup: `attr.${f.name}`,
  }));
}
