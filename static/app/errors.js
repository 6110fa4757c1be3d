// errors.js - API problems in words a salesperson understands. The problem
// `type` picks the message; field errors name the field by its label.
import { t } from './i18n.js';
import { ApiError } from './api.js';
import { h, replace } from './dom.js';

const known = new Set([
  'network', 'unauthenticated', 'bad-credentials', 'forbidden', 'csrf', 'not-found',
  'method-not-allowed', 'conflict', 'duplicate', 'in-use', 'last-admin', 'precondition-failed',
  'version-mismatch', 'payload-too-large', 'unsupported-media-type', 'validation-error',
  'unknown-field', 'bad-sort', 'bad-cursor', 'ambiguous', 'idempotency-key-reused',
  'rate-limited', 'internal-error', 'unavailable', 'bad-request', 'malformed-json',
]);

/** The one-sentence message for an error (ApiError or anything thrown). */
export function message(err) {
  if (!(err instanceof ApiError)) return t('err.unexpected');
  if (err.type === 'internal-error' && err.detail === 'not yet') return t('err.not-yet');
  const key = known.has(err.type) ? err.type : err.status >= 500 ? 'internal-error' : 'bad-request';
  return t(`err.${key}`);
}

/** Field problems as [label, what is wrong] pairs, translated where we can. */
export function fieldProblems(err, labelFor = f => f) {
  if (!(err instanceof ApiError)) return [];
  return err.fields.map(f => {
    const name = f.pointer.replace(/^\//, '').split('/')[0];
    return [labelFor(name), fieldDetail(f.detail)];
  });
}

const patterns = [
  [/^is required/, 'fe.required'],
  [/^must be a number/, 'fe.number'],
  [/^must be an integer/, 'fe.integer'],
  [/^not an e-mail/, 'fe.email'],
  [/^longer than (\d+)/, 'fe.too-long'],
  [/^must be one of: (.*)/, 'fe.one-of'],
  [/^not a date/, 'fe.date'],
  [/^must be a single line/, 'fe.single-line'],
  [/^must be a three-letter currency/, 'fe.currency'],
  [/^unknown field/, 'fe.unknown'],
  [/^already/, 'fe.duplicate'],
  [/^no (\w+) with/, 'fe.missing-ref'],
];

function fieldDetail(detail) {
  for (const [rx, key] of patterns) {
    const m = rx.exec(detail);
    if (m) return t(key, { n: m[1], list: m[1] });
  }
  return detail;
}

/** Render an error into a container (role=alert), with field problems and the reference. */
export function showError(container, err, labelFor) {
  const fields = fieldProblems(err, labelFor);
  const ref = err instanceof ApiError && err.requestId && err.status >= 500
    ? h('div', { class: 'ref' }, t('err.reference', { id: err.requestId })) : null;
  replace(container,
    h('p', null, message(err)),
    fields.length ? h('ul', null, fields.map(([l, d]) => h('li', null, h('strong', null, l), ': ', d))) : null,
    ref);
  container.hidden = false;
  container.setAttribute('role', 'alert');
  container.classList.add('error');
  return container;
}

export function errorBox() { return h('div', { class: 'error', hidden: true }); }
