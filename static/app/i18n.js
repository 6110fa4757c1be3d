// i18n.js - labels in English and Chinese, and number/date formatting.
// The language comes from localStorage, else from navigator.language.
import { strings } from './strings.js';

const KEY = 'axon.lang';
const listeners = new Set();
export const missing = new Set();   // keys asked for but absent (tests read it)
globalThis.__axonMissingStrings = missing;

function initial() {
  const saved = localStorage.getItem(KEY);
  if (saved === 'en' || saved === 'zh') return saved;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
  return nav.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

let lang = initial();
document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';

export function getLang() { return lang; }

export function setLang(l) {
  if (l !== 'en' && l !== 'zh') return;
  lang = l;
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  for (const fn of listeners) fn(l);
}

export function onLangChange(fn) { listeners.add(fn); }

/** t('customers.title'), t('list.count', {n: 3}) - {name} placeholders. */
export function t(key, vars) {
  let s = strings[lang][key];
  if (s === undefined) {
    missing.add(`${lang}:${key}`);
    s = strings.en[key] ?? key;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] ?? m));
  return s;
}

/** Enum values (status, priority, kind, stage keys…): translated if known. */
export function tv(group, value) {
  if (value === null || value === undefined || value === '') return '';
  const s = strings[lang][`${group}.${value}`];
  return s ?? String(value);
}

const locale = () => (lang === 'zh' ? 'zh-CN' : 'en-US');

export function fmtNumber(n) {
  return n === null || n === undefined ? '' : new Intl.NumberFormat(locale()).format(n);
}

export function fmtMoney(n, currency = 'USD') {
  if (n === null || n === undefined) return '';
  try {
    return new Intl.NumberFormat(locale(), { style: 'currency', currency, maximumFractionDigits: 0 }).format(n);
  } catch { return fmtNumber(n); }
}

export function fmtDate(s) {
  if (!s) return '';
  const d = new Date(s.length === 10 ? `${s}T00:00:00Z` : s);
  if (isNaN(d)) return s;
  return new Intl.DateTimeFormat(locale(), { year: 'numeric', month: 'short', day: 'numeric', timeZone: s.length === 10 ? 'UTC' : undefined }).format(d);
}

export function fmtDateTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (isNaN(d)) return s;
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/** "3 d", "5 h" - how long since s. */
export function fmtAge(s, now = Date.now()) {
  if (!s) return '';
  const ms = now - new Date(s).getTime();
  if (isNaN(ms)) return '';
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto', style: 'short' });
  const min = Math.round(ms / 60000);
  if (Math.abs(min) < 60) return rtf.format(-min, 'minute');
  const hr = Math.round(min / 60);
  if (Math.abs(hr) < 48) return rtf.format(-hr, 'hour');
  const d = Math.round(hr / 24);
  if (Math.abs(d) < 60) return rtf.format(-d, 'day');
  const mo = Math.round(d / 30);
  if (Math.abs(mo) < 24) return rtf.format(-mo, 'month');
  return rtf.format(-Math.round(d / 365), 'year');
}

/** Age in whole days (for sorting and colouring). */
export function ageDays(s, now = Date.now()) {
  const ms = now - new Date(s).getTime();
  return isNaN(ms) ? 0 : Math.floor(ms / 86400e3);
}

/** A label that may not exist (a field name from the server): no warning. */
export function tOr(key, fallback) {
  const s = strings[lang][key] ?? strings.en[key];
  return s ?? fallback;
}
