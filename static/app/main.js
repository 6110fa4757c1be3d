// main.js - start the UI: find out who is signed in, then route.
import { request, onUnauthenticated, isAbort } from './api.js';
import { onLangChange } from './i18n.js';
import { route, start, render, onRender } from './router.js';
import { renderHeader, setSession, showSignIn, reauthenticate, installShortcuts, markNav, main, toastError } from './shell.js';
import { h, replace } from './dom.js';
import { message } from './errors.js';
import { customersView } from './customers.js';
import { customerView } from './customer.js';
import { boardView } from './board.js';
import { ticketsView, ticketView } from './tickets.js';
import { importView } from './import.js';
import { activityView } from './activity.js';
import { pipeline, users, products } from './state.js';

route(/^\/customers\/?$/, customersView);
route(/^\/customers\/([^/]+)$/, customerView);
route(/^\/pipeline\/?$/, boardView);
route(/^\/tickets\/?$/, ticketsView);
route(/^\/tickets\/([^/]+)$/, ticketView);
route(/^\/import\/?$/, importView);
route(/^\/activities\/([^/]+)$/, activityView);

onRender(path => {
  markNav(path);
  const m = main();
  m.setAttribute('aria-busy', 'true');
  queueMicrotask(() => m.focus({ preventScroll: true }));
});

let signedIn = false;

async function show() {
  if (!signedIn) return showSignIn();
  try { await render(); } catch (e) {
    if (isAbort(e)) return;
    if (e.status === 401) return;    // handled by onUnauthenticated
    replace(main(), h('div', { class: 'error', role: 'alert' }, message(e)));
  } finally { main().removeAttribute('aria-busy'); }
}

onUnauthenticated(() => { if (signedIn) reauthenticate(); });

onLangChange(() => { renderHeader(); show(); });

/** Start the reference data a screen needs while the session is checked
 * (a failed fetch is dropped from the cache, so nothing sticks if signed out). */
function prefetch(path) {
  const quiet = p => p.catch(() => {});
  if (path.startsWith('/pipeline')) { quiet(pipeline()); quiet(users()); quiet(products()); }
  else if (path === '/' || path.startsWith('/customers') || path.startsWith('/tickets')) quiet(users());
}

async function boot() {
  installShortcuts();
  start();
  prefetch(location.pathname);
  try {
    const { data } = await request('session');
    setSession(data);
    signedIn = true;
  } catch (e) {
    if (e.status !== 401) toastError(e);
  }
  renderHeader();
  if (signedIn && (location.pathname === '/' || location.pathname === '/signin')) history.replaceState(null, '', '/customers');
  await show();
}

// Sign-in sets the session and renders on its own; keep main.js in step.
addEventListener('axon:signed-in', () => { signedIn = true; renderHeader(); show(); });
addEventListener('axon:signed-out', () => { signedIn = false; });
boot();
