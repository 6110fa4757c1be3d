// dom.js - building the page with DOM APIs only. Every value from the
// server goes in as a text node or an attribute; nothing is parsed as HTML.

/**
 * h('a', {href: '/x', class: 'link', onclick: fn}, 'text', child, [more])
 * Props: `class`, `text`, `dataset` (object), `on<event>` (listener),
 * booleans (true sets the attribute, false/null leaves it out), anything
 * else via setAttribute. Children: nodes, strings (text nodes), arrays,
 * null/false (skipped).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') {
        el[k] = !!v;
      } else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

/** Replace all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A labelled form control: <div class="field"><label for=id>…</label>control</div> */
let uid = 0;
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++uid}`;
  const hintEl = hint ? h('div', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

export function nextId(prefix = 'x') { return `${prefix}${++uid}`; }

/** <select> with [value, label] options. */
export function select(options, value, props = {}) {
  const s = h('select', props);
  for (const [v, label] of options) s.appendChild(h('option', { value: v, selected: v === value }, label));
  if (value !== undefined) s.value = value ?? '';
  return s;
}

export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
