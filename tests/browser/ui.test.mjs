// ui.test.mjs - Axon's browser UI in a real (headless) chromium against a
// real server with the demo data. Run: make test-browser
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAxon, launch, sessionCookie, signedInPage, shot, unlabelledControls } from './harness.mjs';

let ax, chrome, cookie;
const timings = {};

before(async () => {
  ax = await startAxon();
  chrome = await launch();
  cookie = await sessionCookie(ax.base, ax.creds.slug, ax.creds.email, ax.creds.password);
  console.log(`# axon at ${ax.base} (${ax.mode}, data loaded in ${ax.seedSeconds.toFixed(1)} s)`);
});

after(async () => {
  console.log(`# timings ${JSON.stringify(timings)}`);
  await chrome?.close();
  await ax?.stop();
});

const q = s => encodeURIComponent(s);
async function firstCustomer(name) {
  const r = await ax.api.get(`/api/v1/customers?name=${q(name)}`);
  return r.data[0];
}
/** Run a timed step n times; the fastest run and all of them. */
async function bestOf(n, fn) {
  const runs = [];
  for (let i = 0; i < n; i++) runs.push(await fn());
  console.log(`# runs ${runs.join(' ')} ms`);
  return Math.min(...runs);
}
async function noProblems(problems) {
  assert.deepEqual(problems.dialogs, [], 'no dialog may open');
  assert.deepEqual(problems.errors, [], 'no uncaught script error');
  assert.deepEqual(problems.console.filter(m => /Content.Security.Policy/i.test(m)), [], 'nothing the CSP had to block');
}

test('sign in shows user, tenant and role; sign out returns to the form', async () => {
  const context = await chrome.browser.newContext({ viewport: { width: 1360, height: 900 }, locale: 'en-US' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  await page.goto(`${ax.base}/`);
  await page.getByLabel('Company ID').fill(ax.creds.slug);
  await page.getByLabel('E-mail').fill(ax.creds.email);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.locator('.signin [role=alert]');
  await alert.waitFor();
  assert.match(await alert.textContent(), /not right/, 'a friendly message, not JSON');
  assert.doesNotMatch(await alert.textContent(), /[{}]/);
  assert.equal(await page.getByLabel('E-mail').inputValue(), ax.creds.email, 'typed input is kept');
  await shot(page, 'signin');
  await page.getByLabel('Password').fill(ax.creds.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-testid=user-role]').waitFor();
  assert.equal(await page.locator('[data-testid=user-role]').textContent(), 'Admin');
  assert.equal(await page.locator('[data-testid=tenant-name]').textContent(), (await ax.api.get('/api/v1/tenant')).name);
  assert.ok((await page.locator('[data-testid=user-name]').textContent()).length > 0);
  assert.equal(new URL(page.url()).pathname, '/customers');
  // The cookie is HttpOnly: scripts cannot read it.
  assert.equal(await page.evaluate(() => document.cookie.includes('axon_session')), false);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  const who = await page.request.get(`${ax.base}/api/v1/session`);
  assert.equal(who.status(), 401, 'the session is gone on the server too');
  assert.deepEqual(errors, []);
  await context.close();
});

test('customer list renders fast, sorts, filters (saved) and counts', async () => {
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, cookie);
  await page.goto('/tickets');          // warm the module cache, as a working browser has it
  await page.locator('table.grid tbody tr').first().waitFor();
  // In-app navigation and a full reload, best of three (the machine is shared).
  const ready = () => page.locator('table.grid tbody tr[data-id]').first().waitFor();
  timings.customers_nav_ms = await bestOf(3, async () => {
    await page.locator('nav.nav a[href="/tickets"]').click();
    await page.locator('[data-testid=ticket-table] tbody tr').first().waitFor();
    const t0 = Date.now();
    await page.locator('nav.nav a[href="/customers"]').click();
    await ready();
    return Date.now() - t0;
  });
  timings.customers_reload_ms = await bestOf(3, async () => {
    const t0 = Date.now();
    await page.reload();
    await ready();
    return Date.now() - t0;
  });
  assert.ok(timings.customers_nav_ms < 1000, `customer list rendered in ${timings.customers_nav_ms} ms`);
  assert.ok(timings.customers_reload_ms < 1000, `customer list reloaded in ${timings.customers_reload_ms} ms`);
  const total = (await ax.api.get('/api/v1/customers?limit=1&count=true')).total;
  assert.match(await page.locator('.count-line').textContent(), new RegExp(`${total.toLocaleString('en-US')} customers`));
  await shot(page, 'customers');
  // Sort by revenue, highest first.
  await page.getByRole('button', { name: 'Revenue' }).click();
  await page.getByRole('button', { name: 'Revenue' }).click();
  await page.locator('th[aria-sort=descending]').waitFor();
  const top = (await ax.api.get('/api/v1/customers?sort=-revenue&limit=1')).data[0];
  await page.waitForFunction(n => document.querySelector('table.grid tbody tr th')?.textContent === n, top.name);
  // Filter by sector (a value from the data); the filter is remembered.
  const sector = (await ax.api.get('/api/v1/customers?sector[null]=false&limit=1')).data[0].sector;
  await page.getByLabel('Sector').fill(sector);
  const east = (await ax.api.get(`/api/v1/customers?sector=${q(sector)}&count=true&limit=1`)).total;
  await page.waitForFunction(n => document.querySelector('.count-line').textContent.startsWith(`${n} `), east.toLocaleString('en-US'));
  await page.reload();
  await page.locator('table.grid tbody tr[data-id]').first().waitFor();
  assert.equal(await page.getByLabel('Sector').inputValue(), sector, 'filters are saved per user');
  assert.match(await page.locator('.count-line').textContent(), new RegExp(`^${east.toLocaleString('en-US')} `));
  const href = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
  assert.match(href, /^\/api\/v1\/exports\/customers\?.*sector=/);
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await page.waitForFunction(n => document.querySelector('.count-line').textContent.startsWith(`${n} `), total.toLocaleString('en-US'));
  // Infinite scroll loads the next page with the cursor.
  if (total > 50) {
    await page.locator('.sentinel').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr[data-id]').length > 50);
  }
  assert.deepEqual(await unlabelledControls(page), []);
  await noProblems(problems);
  await context.close();
});

test('search 送餐 with the / shortcut, results grouped, open a hit', async () => {
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, cookie);
  await page.goto('/customers');
  await page.locator('table.grid tbody tr').first().waitFor();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'search');
  const searches = [];
  page.on('request', r => { if (r.url().includes('/api/v1/search')) searches.push(r.url()); });
  await page.keyboard.type('送餐', { delay: 30 });
  const group = page.locator('#search-panel [role=group]').filter({ hasText: 'Messages and notes' });
  await group.waitFor();
  assert.ok(searches.length <= 2, `debounced: ${searches.length} requests for 2 keystrokes`);
  const hit = group.locator('[role=option]').first();
  assert.equal(await hit.locator('mark').first().textContent(), '送餐');
  await shot(page, 'search');
  await page.keyboard.press('Enter');
  const found = page.locator('.found');
  await found.waitFor();
  assert.match(await found.textContent(), /送餐/);
  assert.match(new URL(page.url()).pathname, /^\/customers\/cus_/);
  await noProblems(problems);
  await context.close();
});

test('customer page: add a note, it appears on the timeline; history shows changes', async () => {
  const c = await firstCustomer('Cheers') || (await ax.api.get('/api/v1/customers?limit=1')).data[0];
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, cookie);
  await page.goto(`/customers/${c.id}`);
  await page.locator('.tl-item').first().waitFor();
  const text = `Called back about the renewal 续约 ${Date.now()}`;
  await page.getByRole('textbox', { name: 'Note' }).fill(text);
  await page.getByRole('button', { name: 'Add note' }).last().click();
  await page.locator('.timeline .tl-item').first().filter({ hasText: text }).waitFor();
  const acts = await ax.api.get(`/api/v1/activities?customer_id=${c.id}&kind=note&limit=5&sort=-occurred_at`);
  assert.equal(acts.data[0].body, text, 'the note is stored');
  assert.equal(await page.getByRole('textbox', { name: 'Note' }).inputValue(), '', 'the form is cleared after saving');
  // Timeline pages: older items load with the cursor.
  const before = await page.locator('.timeline .tl-item').count();
  if (await page.getByRole('button', { name: 'Show older' }).isVisible()) {
    await page.getByRole('button', { name: 'Show older' }).click();
    await page.waitForFunction(n => document.querySelectorAll('.timeline .tl-item').length > n, before);
  }
  // Inline edit, then see it in the history.
  await page.getByRole('button', { name: 'Edit Tier' }).click();
  await page.locator('#edit-tier').fill('A+');
  await page.keyboard.press('Enter');
  await page.locator('.value[data-field=tier]').filter({ hasText: 'A+' }).waitFor();
  await page.locator('.history-card summary').click();
  await page.locator('.history .changes').first().waitFor();
  assert.match(await page.locator('.history li').first().textContent(), /Tier.*A\+/s);
  // A validation error is shown in words and keeps what was typed.
  await page.getByRole('tab', { name: 'Create deal' }).click();
  await page.getByLabel('Deal name').fill('Bad amount deal');
  await page.getByLabel('Amount').fill('1e20');
  await page.getByRole('button', { name: 'Create deal' }).last().click();
  const err = page.locator('#panel-deal [role=alert]');
  await err.waitFor();
  assert.doesNotMatch(await err.textContent(), /[{}"]|problems\//, 'no raw JSON');
  assert.equal(await page.getByLabel('Deal name').inputValue(), 'Bad amount deal', 'typed input is kept');
  await page.getByRole('tab', { name: 'Add note' }).click();
  await shot(page, 'customer', { fullPage: true });
  assert.deepEqual(await unlabelledControls(page), []);
  await noProblems(problems);
  await context.close();
});

test('pipeline board renders fast; drag a deal to Won and the API has the stage', async () => {
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, cookie);
  await page.goto('/tickets');          // warm the module cache
  await page.locator('table.grid tbody tr').first().waitFor();
  const boardReady = async () => {
    for (const s of ['prospecting', 'engaging', 'won', 'lost']) await page.locator(`.column[data-stage=${s}] .deal-card`).first().waitFor();
  };
  timings.board_nav_ms = await bestOf(3, async () => {
    await page.locator('nav.nav a[href="/tickets"]').click();
    await page.locator('[data-testid=ticket-table] tbody tr').first().waitFor();
    const t0 = Date.now();
    await page.locator('nav.nav a[href="/pipeline"]').click();
    await boardReady();
    return Date.now() - t0;
  });
  timings.board_reload_ms = await bestOf(3, async () => {
    const t0 = Date.now();
    await page.reload();
    await boardReady();
    return Date.now() - t0;
  });
  assert.ok(timings.board_nav_ms < 1000, `board rendered in ${timings.board_nav_ms} ms`);
  assert.ok(timings.board_reload_ms < 1000, `board reloaded in ${timings.board_reload_ms} ms`);
  const cards = await page.locator('.deal-card').count();
  assert.ok(cards <= 4 * 20, `cards are paged per column (${cards} shown)`);
  const summary = await ax.api.get('/api/v1/deals/summary');
  const won = summary.data.find(s => s.stage === 'won');
  assert.equal(await page.locator('[data-testid=count-won]').textContent(), won.count.toLocaleString('en-US'));
  await shot(page, 'pipeline');

  const card = page.locator('.column[data-stage=prospecting] .deal-card').first();
  const id = await card.getAttribute('data-id');
  await card.locator('.card-title').dragTo(page.locator('.column[data-stage=won] .col-head'));
  await page.locator(`.column[data-stage=won] .deal-card[data-id="${id}"]`).waitFor();
  await page.waitForFunction(() => /moved to Won/.test(document.querySelector('[aria-live=assertive]')?.textContent || ''));
  const deal = await ax.api.get(`/api/v1/deals/${id}`);
  assert.equal(deal.stage, 'won', 'the API has the new stage');
  await page.waitForFunction(n => document.querySelector('[data-testid=count-won]').textContent === n, (won.count + 1).toLocaleString('en-US'));

  // The keyboard way: focus a card, Shift+→ moves it one stage.
  const kcard = page.locator('.column[data-stage=prospecting] .deal-card').first();
  const kid = await kcard.getAttribute('data-id');
  await kcard.focus();
  await page.keyboard.press('Shift+ArrowRight');
  await page.locator(`.column[data-stage=engaging] .deal-card[data-id="${kid}"]`).waitFor();
  await page.waitForFunction(async id => {
    const r = await fetch(`/api/v1/deals/${id}`);
    return (await r.json()).stage === 'engaging';
  }, kid);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.id), kid, 'focus stays on the moved card');

  // Owner filter narrows the columns and totals.
  const owner = (await ax.api.get('/api/v1/deals?limit=1&stage=won')).data[0].owner_id;
  if (owner) {
    await page.getByLabel('Owner').selectOption(owner);
    const s = await ax.api.get(`/api/v1/deals/summary?owner_id=${owner}`);
    await page.waitForFunction(n => document.querySelector('.count-line').textContent.startsWith(n), s.total.toLocaleString('en-US'));
    await page.getByLabel('Owner').selectOption('');
  }
  // Table view of the same deals.
  await page.getByRole('button', { name: 'Table' }).click();
  await page.locator('[data-testid=deal-table] tbody tr').first().waitFor();
  await shot(page, 'pipeline-table');
  await page.getByRole('button', { name: 'Board' }).click();
  await page.locator('.deal-card').first().waitFor();
  assert.deepEqual(await unlabelledControls(page), []);
  await noProblems(problems);
  await context.close();
});

test('tickets: queue with priority, status and age; ticket page with conversation and status change', async () => {
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, cookie);
  await page.goto('/tickets');
  await page.locator('[data-testid=ticket-table] tbody tr[data-id]').first().waitFor();
  await shot(page, 'tickets');
  const id = await page.locator('[data-testid=ticket-table] tbody tr[data-id]').first().getAttribute('data-id');
  await page.locator('[data-testid=ticket-table] tbody tr[data-id] a').first().click();
  await page.locator('#h-conv').waitFor();
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill('We are sending a replacement today.');
  await page.getByRole('button', { name: 'Add to conversation' }).click();
  await page.locator('.conv-msg').filter({ hasText: 'replacement today' }).waitFor();
  await page.getByRole('button', { name: 'Edit Status' }).click();
  await page.locator('#edit-status').selectOption('resolved');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('[data-testid=status-change]').filter({ hasText: 'Resolved' }).waitFor();
  assert.equal((await ax.api.get(`/api/v1/tickets/${id}`)).status, 'resolved');
  await shot(page, 'ticket', { fullPage: true });
  await noProblems(problems);
  await context.close();
});

test('a customer named <img src=x onerror=alert(1)> shows as text and runs no script', async () => {
  const evil = '<img src=x onerror=alert(1)>';
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, cookie);
  // Typed into the UI's own form…
  await page.goto('/customers');
  await page.getByRole('button', { name: 'New customer' }).click();
  await page.locator('#new-customer').getByLabel('Name').fill(evil);
  await page.locator('#new-customer').getByLabel('Sector').fill('<script>alert(2)</script>');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('[data-testid=customer-name]').waitFor();
  assert.equal(await page.locator('[data-testid=customer-name]').textContent(), evil);
  const c = { id: new URL(page.url()).pathname.split('/').pop() };
  // …and arriving through the API in other places.
  await ax.api.post('/api/v1/activities', { kind: 'note', customer_id: c.id, body: `${evil} <b>bold</b> xsscheck` });
  await ax.api.post('/api/v1/deals', { name: evil, customer_id: c.id, stage: 'prospecting', amount: 1 });
  await page.goto('/customers');
  await page.getByLabel('Name contains').fill('<img');
  await page.locator(`tr[data-id="${c.id}"]`).waitFor();
  assert.equal(await page.locator(`tr[data-id="${c.id}"] th`).textContent(), evil);
  await page.locator(`tr[data-id="${c.id}"] a`).click();
  await page.locator('[data-testid=customer-name]').waitFor();
  assert.equal(await page.locator('[data-testid=customer-name]').textContent(), evil);
  await page.locator('.tl-item').filter({ hasText: 'xsscheck' }).waitFor();
  await page.locator('#search').fill('xsscheck');
  await page.locator('#search-panel [role=option]').first().waitFor();
  await page.goto('/pipeline');
  await page.locator('.deal-card').first().waitFor();
  const imgs = await page.evaluate(() => document.querySelectorAll('main img, #search-panel img').length);
  assert.equal(imgs, 0, 'no <img> element was made from data');
  await page.waitForTimeout(300);
  await noProblems(problems);
  // The page itself carries the strict CSP.
  const res = await page.request.get(`${ax.base}/customers`);
  assert.match(res.headers()['content-security-policy'], /script-src 'self'/);
  await context.close();
});

test('CSRF: a cross-site form post is refused, and so is a same-origin write without the token', async () => {
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, cookie);
  await page.goto('/customers');
  await page.locator('table.grid tbody tr').first().waitFor();
  // An attacker's page on another origin of the same host (so the Lax cookie IS sent).
  const evil = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><form id=f method=POST action="${ax.base}/api/v1/customers" enctype="text/plain">
      <input name='{"name":"csrf-victim","x":"' value='"}'><button id=go>win a prize</button></form>`);
  });
  await new Promise(r => evil.listen(0, '127.0.0.1', r));
  const evilUrl = `http://127.0.0.1:${evil.address().port}/`;
  await page.goto(evilUrl);
  const [resp] = await Promise.all([
    page.waitForResponse(r => r.url().includes('/api/v1/customers'), { timeout: 5000 }).catch(() => null),
    page.click('#go'),
  ]);
  assert.ok(resp, 'the browser got an answer');
  assert.equal(resp.status(), 403, 'refused with 403');
  assert.match(await resp.text(), /problems\/csrf/);
  evil.close();
  const found = await ax.api.get('/api/v1/customers?name=csrf-victim&count=true&limit=1');
  assert.equal(found.total, 0, 'no record was created by the cross-site post');
  // Same origin, with the cookie but without X-CSRF-Token: refused too.
  await page.goto('/customers');
  await page.locator('table.grid tbody tr').first().waitFor();
  const r = await page.evaluate(async () => {
    try {
      const res = await fetch('/api/v1/customers', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"csrf-no-token"}' });
      return res.status;
    } catch (e) { return 'network-error'; }
  });
  assert.notEqual(r, 201);
  assert.equal((await ax.api.get('/api/v1/customers?name=csrf-no-token&count=true&limit=1')).total, 0);
  // With the token (as the UI sends it) the same write works.
  const ok = await page.evaluate(async () => {
    const s = await (await fetch('/api/v1/session')).json();
    const res = await fetch('/api/v1/customers', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token }, body: '{"name":"csrf-with-token"}' });
    return res.status;
  });
  assert.equal(ok, 201);
  await noProblems(problems);
  await context.close();
});

test("a second user's conflicting edit is detected, not overwritten", async () => {
  const email = `sam.second.${Date.now()}@demo.example`;
  const user = await ax.api.post('/api/v1/users', { name: 'Sam Second', email, role: 'sales' });
  await ax.api.req('POST', `/api/v1/users/${user.id}/password`, { password: 'second-user-pw-123' });
  const cookie2 = await sessionCookie(ax.base, ax.creds.slug, email, 'second-user-pw-123');
  const c = await ax.api.post('/api/v1/customers', { name: `Conflict Co ${Date.now()}`, sector: 'retail' });
  const a = await signedInPage(chrome.browser, ax.base, cookie);
  const b = await signedInPage(chrome.browser, ax.base, cookie2);
  await a.page.goto(`/customers/${c.id}`);
  await b.page.goto(`/customers/${c.id}`);
  await a.page.locator('.value[data-field=sector]').waitFor();
  await b.page.locator('.value[data-field=sector]').waitFor();
  // Both start editing the same field of version 1.
  await b.page.getByRole('button', { name: 'Edit Sector' }).click();
  await b.page.locator('#edit-sector').fill('wholesale (Sam)');
  await a.page.getByRole('button', { name: 'Edit Sector' }).click();
  await a.page.locator('#edit-sector').fill('e-commerce (admin)');
  await a.page.keyboard.press('Enter');
  await a.page.locator('.value[data-field=sector]').filter({ hasText: 'e-commerce (admin)' }).waitFor();
  // The second save is refused with 412 and shows the other change.
  await b.page.getByRole('button', { name: 'Save', exact: true }).click();
  const conflict = b.page.locator('.conflict');
  await conflict.waitFor();
  assert.equal(await b.page.locator('[data-testid=conflict-theirs]').textContent(), 'e-commerce (admin)');
  assert.equal(await b.page.locator('[data-testid=conflict-mine]').textContent(), 'wholesale (Sam)');
  assert.equal(await b.page.locator('#edit-sector').inputValue(), 'wholesale (Sam)', 'typed input is kept');
  assert.equal((await ax.api.get(`/api/v1/customers/${c.id}`)).sector, 'e-commerce (admin)', 'not overwritten');
  await shot(b.page, 'conflict');
  // Sam decides to apply theirs on top: now it saves (with the new version).
  await b.page.getByRole('button', { name: 'Save mine instead' }).click();
  await b.page.locator('.value[data-field=sector]').filter({ hasText: 'wholesale (Sam)' }).waitFor();
  assert.equal((await ax.api.get(`/api/v1/customers/${c.id}`)).sector, 'wholesale (Sam)');
  assert.match(await b.page.locator('[data-testid=user-role]').textContent(), /Sales/);
  await noProblems(a.problems);
  await noProblems(b.problems);
  await a.context.close();
  await b.context.close();
});

test('an ended session asks to sign in again over the page and keeps what was typed', async () => {
  const own = await sessionCookie(ax.base, ax.creds.slug, ax.creds.email, ax.creds.password);
  const c = await firstCustomer('Cheers') || (await ax.api.get('/api/v1/customers?limit=1')).data[0];
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, own);
  await page.goto(`/customers/${c.id}`);
  const note = page.getByRole('textbox', { name: 'Note' });
  await note.waitFor();
  await note.fill('typed before the session ended');
  // The session ends on the server (as after a timeout or a sign-out elsewhere).
  const gone = await page.evaluate(async () => {
    const s = await (await fetch('/api/v1/session')).json();
    return (await fetch('/api/v1/session', { method: 'DELETE', headers: { 'X-CSRF-Token': s.csrf_token } })).status;
  });
  assert.equal(gone, 204);
  await page.getByRole('button', { name: 'Add note' }).last().click();
  const dialog = page.locator('dialog#reauth');
  await dialog.waitFor();
  assert.equal(await note.inputValue(), 'typed before the session ended', 'typed input is kept');
  await dialog.getByLabel('Password').fill(ax.creds.password);
  await dialog.getByRole('button', { name: 'Sign in' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Add note' }).last().click();
  await page.locator('.timeline .tl-item').first().filter({ hasText: 'typed before the session ended' }).waitFor();
  await noProblems(problems);
  await context.close();
});

test('CSV import: preview, map, start, the progress bar reaches 100%, errors downloadable', async t => {
  // Is the import API there yet?
  const probe = await fetch(`${ax.base}/api/v1/jobs/job_probe`, { headers: { Authorization: `Bearer ${ax.creds.key}` } });
  const body = await probe.text();
  if (probe.status === 500 && /not yet/.test(body)) {
    t.skip('the import API answers 500 "not yet"');
    return;
  }
  const rows = ['external_id,Company,Industry,Staff,Region'];
  for (let i = 1; i <= 400; i++) rows.push(`IMP-${i},Imported Co ${i},${i % 2 ? 'retail' : 'software'},${i === 7 ? 'many' : 10 + i},"North, ""Upper"""`);
  const file = join(ax.dir, 'import.csv');
  writeFileSync(file, `${rows.join('\r\n')}\r\n`);
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, cookie);
  await page.goto('/import');
  await page.getByLabel('Records to import').selectOption('customers');
  await page.locator('input[type=file]').setInputFiles(file);
  await page.locator('[data-testid=import-preview] tbody tr').first().waitFor();
  assert.match(await page.locator('[data-testid=import-preview] tbody').textContent(), /Imported Co 1/);
  await page.getByLabel('Field for column Company').selectOption('name');
  await page.getByLabel('Field for column Industry').selectOption('sector');
  await page.getByLabel('Field for column Staff').selectOption('employees');
  await page.getByLabel('Field for column Region').selectOption('region');
  await page.getByLabel('Field for column external_id').selectOption('external_id');
  await page.getByLabel('Match existing records by').selectOption('external_id');
  await shot(page, 'import-mapping', { fullPage: true });
  await page.locator('[data-testid=import-start]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=import-progress]')?.value === 100, null, { timeout: 30000 });
  await page.locator('.import-progress [role=status]').waitFor();
  assert.match(await page.locator('.progress-label').textContent(), /100%/);
  const imported = await ax.api.get('/api/v1/customers?name[contains]=Imported%20Co&count=true&limit=1');
  assert.ok(imported.total >= 399, `${imported.total} rows imported`);
  await page.locator('[data-testid=import-errors] tbody tr').first().waitFor();
  const errRow = await page.locator('[data-testid=import-errors] tbody tr').first().textContent();
  assert.match(errRow, /^7\D/, 'the bad row (data row 7) is listed');
  assert.match(errRow, /Staff/);
  const href = await page.locator('[data-testid=import-errors-csv]').getAttribute('href');
  const csv = await page.request.get(`${ax.base}${href}`);
  assert.equal(csv.status(), 200);
  assert.match(await csv.text(), /^\uFEFF?row,field,message\r?\n7,Staff,/);
  assert.match(await page.locator('.import-progress [role=status]').textContent(), /399 added/);
  await shot(page, 'import', { fullPage: true });
  await noProblems(problems);
  await context.close();
});

test('both languages render every screen with no missing label; the choice is saved', async () => {
  // A browser whose language is Chinese starts in Chinese.
  const { page, problems, context } = await signedInPage(chrome.browser, ax.base, cookie, { locale: 'zh-CN', lang: null });
  await page.goto('/customers');
  await page.locator('table.grid tbody tr').first().waitFor();
  assert.equal(await page.locator('nav.nav a[href="/customers"]').textContent(), '客户');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  await shot(page, 'customers-zh');
  const c = await firstCustomer('Cheers') || (await ax.api.get('/api/v1/customers?limit=1')).data[0];
  const tk = (await ax.api.get('/api/v1/tickets?limit=1')).data[0];
  const screens = [['/customers', 'table.grid tbody tr'], [`/customers/${c.id}`, '.tl-item'], ['/pipeline', '.deal-card'],
    ['/tickets', 'table.grid tbody tr'], [`/tickets/${tk.id}`, '#h-conv'], ['/import', '#h-step1']];
  for (const lang of ['zh', 'en']) {
    if (lang === 'en') {
      await page.getByLabel('语言').selectOption('en');
      await page.locator('nav.nav a[href="/customers"]', { hasText: 'Customers' }).waitFor();
    }
    for (const [path, sel] of screens) {
      await page.goto(path);
      await page.locator(sel).first().waitFor();
      if (lang === 'zh' && path === '/pipeline') await shot(page, 'pipeline-zh');
      assert.deepEqual(await unlabelledControls(page), [], `${path} (${lang}) labels`);
    }
    const missing = await page.evaluate(() => [...globalThis.__axonMissingStrings]);
    assert.deepEqual(missing, [], `no missing ${lang} labels`);
  }
  await page.reload();
  await page.locator('nav.nav a[href="/customers"]').waitFor();
  assert.equal(await page.locator('nav.nav a[href="/customers"]').textContent(), 'Customers', 'the choice survives a reload');
  await noProblems(problems);
  await context.close();
});
