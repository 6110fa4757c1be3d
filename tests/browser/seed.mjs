// seed.mjs - load sample data into a tenant through the REST API, for the
// browser tests while `axon demo` cannot load it yet. Reads the real files in
// ../shared/data (or data/): 85 accounts, 35 sales agents, 8,800 deals,
// Chinese reviews as activities, support tickets.
//
//   node tests/browser/seed.mjs BASE_URL API_KEY [DATA_DIR]
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** RFC 4180 CSV: quotes, doubled quotes, newlines inside quotes, CRLF, BOM. */
export function parseCsv(text) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows = [];
  let row = [], field = '', i = 0, q = false;
  while (i < text.length) {
    const c = text[i];
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        q = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"') { q = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' || c === '\n') {
      row.push(field); field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    field += c; i++;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const head = rows.shift();
  return rows.map(r => Object.fromEntries(head.map((h, k) => [h, r[k] ?? ''])));
}

function csv(dir, ...parts) {
  return parseCsv(readFileSync(join(dir, ...parts), 'utf8'));
}

export class Api {
  constructor(base, key) { this.base = base; this.key = key; }
  async req(method, path, body, headers = {}) {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(this.base + path, {
        method,
        headers: { Authorization: `Bearer ${this.key}`, ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (res.status === 429 && attempt < 20) {
        await new Promise(r => setTimeout(r, 1000 * Number(res.headers.get('Retry-After') || 1)));
        continue;
      }
      if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text.slice(0, 300)}`);
      return text ? { body: JSON.parse(text), etag: res.headers.get('ETag') } : { body: null };
    }
  }
  async post(path, body) { return (await this.req('POST', path, body)).body; }
  async get(path) { return (await this.req('GET', path)).body; }
}

/** Run fn over items with `n` requests in flight. */
async function pool(items, n, fn) {
  let next = 0;
  const out = new Array(items.length);
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

const slug = s => s.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '.').replace(/^\.|\.$/g, '');

export function findData(root) {
  for (const d of [join(root, '..', 'shared', 'data'), join(root, 'data')])
    if (existsSync(join(d, 'crm_sales_opportunities', 'sales_pipeline.csv'))) return d;
  throw new Error('no sample data found in ../shared/data or data/');
}

export async function seed(base, key, dataDir, opts = {}) {
  const api = new Api(base, key);
  const crm = d => csv(dataDir, 'crm_sales_opportunities', d);
  const teams = crm('sales_teams.csv'), accounts = crm('accounts.csv');
  const products = crm('products.csv'), pipeline = crm('sales_pipeline.csv');
  const maxDeals = opts.deals ?? pipeline.length;

  // Users: managers, then agents.
  const users = new Map();
  const managers = [...new Set(teams.map(t => t.manager))];
  for (const m of managers) {
    const u = await api.post('/api/v1/users', { name: m, email: `${slug(m)}@demo.example`, role: 'manager' });
    users.set(m, u.id);
  }
  await pool(teams, 8, async t => {
    const u = await api.post('/api/v1/users', {
      name: t.sales_agent, email: `${slug(t.sales_agent)}@demo.example`, role: 'sales',
      manager_id: users.get(t.manager), attrs: {},
    });
    users.set(t.sales_agent, u.id);
  });
  const office = Object.fromEntries(teams.map(t => [t.sales_agent, t.regional_office]));

  const prod = new Map();
  for (const p of products) {
    const r = await api.post('/api/v1/products', { name: p.product, series: p.series, price: Number(p.sales_price) });
    prod.set(p.product, r.id);
  }
  prod.set('GTXPro', prod.get('GTX Pro'));

  // Each account's owner and region: the agent of its first deal.
  const firstAgent = {};
  for (const d of pipeline) if (d.account && !firstAgent[d.account]) firstAgent[d.account] = d.sales_agent;
  const cust = new Map();
  await pool(accounts, 8, async a => {
    const agent = firstAgent[a.account];
    const rev = Number(a.revenue);
    const r = await api.post('/api/v1/customers', {
      name: a.account, sector: a.sector, year_established: Number(a.year_established),
      revenue: rev, employees: Number(a.employees), country: a.office_location,
      region: agent ? office[agent] : null, tier: rev >= 1000 ? 'A' : rev >= 300 ? 'B' : 'C',
      owner_id: agent ? users.get(agent) : null, external_id: a.account,
    });
    cust.set(a.account, r.id);
  });

  const stage = { Prospecting: 'prospecting', Engaging: 'engaging', Won: 'won', Lost: 'lost' };
  await pool(pipeline.slice(0, maxDeals), 16, d => api.post('/api/v1/deals', {
    name: `${d.product} · ${d.account || d.opportunity_id}`,
    external_id: d.opportunity_id,
    customer_id: d.account ? cust.get(d.account) : null,
    product_id: prod.get(d.product) ?? null,
    stage: stage[d.deal_stage] ?? 'prospecting',
    amount: d.close_value ? Number(d.close_value) : null,
    engage_date: d.engage_date || null,
    close_date: d.close_date || null,
    owner_id: users.get(d.sales_agent) ?? null,
  }));

  // Chinese reviews as activities, spread over the accounts.
  const custIds = [...cust.values()];
  const reviews = csv(dataDir, 'zh_sentiment', 'waimai_10k.csv');
  const picked = [...reviews.filter(r => r.review.includes('送餐')).slice(0, opts.reviews ?? 150),
                  ...reviews.filter(r => !r.review.includes('送餐')).slice(0, opts.reviews ?? 150)];
  await pool(picked, 16, (r, i) => api.post('/api/v1/activities', {
    kind: 'review', direction: 'inbound', body: r.review,
    subject: r.label === '1' ? '好评' : '差评',
    customer_id: custIds[i % custIds.length],
    occurred_at: new Date(Date.UTC(2026, 0, 1) + i * 3600e3).toISOString(),
  }));

  const tickets = csv(dataDir, 'support_tickets_en', 'customer_support_tickets.csv').slice(0, opts.tickets ?? 200);
  const tstatus = { 'Open': 'open', 'Pending Customer Response': 'pending', 'Closed': 'closed' };
  await pool(tickets, 16, (t, i) => api.post('/api/v1/tickets', {
    subject: t['Ticket Subject'],
    description: t['Ticket Description'].replaceAll('{product_purchased}', t['Product Purchased']),
    type: t['Ticket Type'], priority: t['Ticket Priority'].toLowerCase(),
    status: tstatus[t['Ticket Status']] ?? 'open',
    channel: t['Ticket Channel'],
    customer_id: custIds[(i * 7) % custIds.length],
    external_id: `T${t['Ticket ID']}`,
    opened_at: new Date(Date.UTC(2026, 10, 1) - i * 5 * 3600e3).toISOString(),
    resolution: t['Resolution'] || null,
  }));
  return { users, customers: cust, products: prod };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [base, key, dir] = process.argv.slice(2);
  const t0 = Date.now();
  await seed(base, key, dir || findData(process.cwd()));
  console.log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
