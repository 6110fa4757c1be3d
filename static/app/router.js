// router.js - client-side routes with the History API. Links are real
// <a href> elements; clicks on same-origin links are taken over here, so
// opening in a new tab still works. Each screen gets an AbortSignal that
// fires when the user leaves it, which cancels its requests.
const routes = [];
let current = null;      // {controller}
let renderHook = null;

export function route(pattern, view) { routes.push({ pattern, view }); }
export function onRender(fn) { renderHook = fn; }

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render();
}

export async function render() {
  if (current) current.controller.abort();
  const controller = new AbortController();
  current = { controller };
  const path = location.pathname;
  for (const { pattern, view } of routes) {
    const m = pattern.exec(path);
    if (m) {
      const params = m.slice(1).map(decodeURIComponent);
      const query = new URLSearchParams(location.search);
      if (renderHook) renderHook(path);
      try {
        const t0 = performance.now();
        await view({ params, query, signal: controller.signal });
        // For tests and curious developers: how long the screen took to draw.
        performance.measure('axon:view', { start: t0, detail: path });
        performance.mark('axon:view-ready', { detail: path });
      } catch (e) {
        if (e.name !== 'AbortError') throw e;
      }
      return;
    }
  }
  return navigate('/customers', { replace: true });
}

export function start() {
  addEventListener('popstate', () => render());
  document.addEventListener('click', e => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
}
