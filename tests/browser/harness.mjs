// harness.mjs - start a real Axon on a free port with data loaded, and a
// headless Debian chromium driven by playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { seed, findData, Api } from './seed.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const AXON = join(ROOT, 'axon');
export const SHOTS = join(ROOT, 'test-output', 'screenshots');

function cli(db, vardir, ...args) {
  return execFileSync(AXON, ['--db', db, '--var', vardir, '--log-level', 'warn', ...args],
    { encoding: 'utf8', timeout: 300000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Admin credentials out of `axon tenant create` (or `axon demo`) output. */
export function parseCredentials(out) {
  const key = /API key\s+(axk_\S+)/.exec(out);
  const admin = /admin\s+(\S+@\S+)\s+password:\s*(\S+)/.exec(out);
  const slug = /slug (\S+?),/.exec(out) || /slug\s+(\S+)/.exec(out);
  if (!key || !admin) return null;
  return { key: key[1], email: admin[1], password: admin[2], slug: slug ? slug[1].replace(/[,)]$/, '') : 'demo' };
}

async function waitFile(path, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (existsSync(path)) {
      const s = readFileSync(path, 'utf8').trim();
      if (s) return s;
    }
    await new Promise(r => setTimeout(r, 50));
  }
  throw new Error(`server did not write ${path}`);
}

/**
 * Start Axon with data: the demo (`axon demo`) when it loads the real data,
 * else a tenant from `axon tenant create` seeded through the API.
 */
export async function startAxon() {
  const dir = mkdtempSync(join(tmpdir(), 'axon-ui-'));
  const db = join(dir, 'axon.db'), vardir = join(dir, 'var');
  mkdirSync(vardir);
  let creds = null, mode = 'seed';
  try {
    const out = cli(db, vardir, 'demo', '--data', join(ROOT, 'data'));
    creds = parseCredentials(out);
    if (creds) mode = 'demo';
  } catch { /* no demo loader yet */ }
  if (!creds) creds = parseCredentials(cli(db, vardir, 'tenant', 'create', 'Demo UI', '--slug', 'demo-ui'));
  const portFile = join(dir, 'port');
  const log = [];
  const proc = spawn(AXON, ['--port', '0', '--port-file', portFile, '--db', db, '--var', vardir,
    '--static', join(ROOT, 'static'), '--rate-limit', '0', '--log-level', 'warn', 'serve'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', d => log.push(String(d)));
  proc.stderr.on('data', d => log.push(String(d)));
  const port = await waitFile(portFile, 15000);
  const base = `http://127.0.0.1:${port}`;
  const api = new Api(base, creds.key);
  if (mode === 'demo') {
    const deals = await api.get('/api/v1/deals?limit=1&count=true');
    if ((deals.total ?? 0) < 8800) mode = 'seed';
  }
  const t0 = Date.now();
  if (mode === 'seed') await seed(base, creds.key, findData(ROOT));
  return {
    base, port: Number(port), creds, api, dir, mode, log, seedSeconds: (Date.now() - t0) / 1000,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise(r => { proc.once('exit', r); setTimeout(r, 3000); });
      if (!process.env.KEEP_TMP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
}

// playwright-core gives every launch() a fresh, temporary --user-data-dir
// of its own (and refuses the flag in `args`), so each run starts clean.
export async function launch() {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser, close: () => browser.close() };
}

/** Sign in through the API (one session shared by contexts; sign-in is rate-limited). */
export async function sessionCookie(base, slug, email, password) {
  const res = await fetch(`${base}/api/v1/session`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ tenant: slug, email, password }),
  });
  if (!res.ok) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const m = /axon_session=([^;]+)/.exec(res.headers.get('set-cookie') || '');
  return { name: 'axon_session', value: m[1], url: base, httpOnly: true, sameSite: 'Lax' };
}

/** A new context (English unless told) already signed in with `cookie`. */
export async function signedInPage(browser, base, cookie, { locale = 'en-US', lang = 'en' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, locale, baseURL: base });
  if (cookie) await context.addCookies([cookie]);
  if (lang) await context.addInitScript(l => { if (!localStorage.getItem('axon.lang')) localStorage.setItem('axon.lang', l); }, lang);
  const page = await context.newPage();
  const problems = { dialogs: [], errors: [], console: [] };
  page.on('dialog', d => { problems.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', e => problems.errors.push(e.message));
  page.on('console', m => { if (m.type() === 'error') problems.console.push(m.text()); });
  return { context, page, problems };
}

export async function shot(page, name, opts = {}) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), ...opts });
}

/** Every visible form control has a label (for=, wrapping label, aria-label(ledby)). */
export async function unlabelledControls(page) {
  return page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter(el => el.offsetParent !== null)
    .filter(el => {
      if (el.tagName === 'BUTTON') return !(el.textContent.trim() || el.getAttribute('aria-label'));
      return !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'));
    })
    .map(el => el.outerHTML.slice(0, 120)));
}
