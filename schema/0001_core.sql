-- 0001_core.sql: tenants, identity, CRM objects, audit chain, jobs.
--
-- Conventions: every tenant-owned row has `tenant_id` (tenants.rid) and is
-- only ever read with it bound from the authenticated caller. Object tables
-- share: rid (internal), id (public, typed, random), version (ETag),
-- created_at/updated_at (RFC 3339 UTC text), created_by, external_id
-- (natural key for upserts), attrs (custom fields, JSON) and doc (the JSON
-- served to clients, kept in step with the columns by the store layer).
-- Column names equal API field names; the store checks this at start.
-- Each object table has a unique index on `id` (ids are random and
-- global) and an index on `tenant_id` alone, whose entries are ordered by
-- rid within a tenant: it serves "newest first" lists without a sort.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE tenants (
    rid        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    settings   TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE units (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    name TEXT NOT NULL,
    description TEXT,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX units_id ON units(id);
CREATE INDEX units_tenant ON units(tenant_id);
CREATE UNIQUE INDEX units_name ON units(tenant_id, name);
CREATE UNIQUE INDEX units_ext ON units(tenant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE users (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL,
    title TEXT,
    phone TEXT,
    locale TEXT,
    manager_id TEXT,
    unit_ids TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL,
    password_hash TEXT               -- argon2id; never part of doc
);
CREATE UNIQUE INDEX users_id ON users(id);
CREATE INDEX users_tenant ON users(tenant_id);
CREATE UNIQUE INDEX users_email ON users(tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX users_name ON users(tenant_id, name);
CREATE UNIQUE INDEX users_ext ON users(tenant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE customers (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    email TEXT, phone TEXT, website TEXT,
    sector TEXT, tier TEXT, region TEXT, country TEXT, city TEXT, address TEXT,
    revenue REAL, employees INTEGER, year_established INTEGER,
    parent_id TEXT, owner_id TEXT, unit_id TEXT,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX customers_id ON customers(id);
CREATE INDEX customers_tenant ON customers(tenant_id);
CREATE UNIQUE INDEX customers_ext ON customers(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX customers_name ON customers(tenant_id, name);
CREATE INDEX customers_email ON customers(tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX customers_owner ON customers(tenant_id, owner_id);
CREATE INDEX customers_updated ON customers(tenant_id, updated_at);

CREATE TABLE contacts (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    name TEXT NOT NULL,
    first_name TEXT, last_name TEXT, email TEXT, phone TEXT, title TEXT,
    customer_id TEXT, owner_id TEXT, unit_id TEXT,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX contacts_id ON contacts(id);
CREATE INDEX contacts_tenant ON contacts(tenant_id);
CREATE UNIQUE INDEX contacts_ext ON contacts(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX contacts_name ON contacts(tenant_id, name);
CREATE INDEX contacts_email ON contacts(tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX contacts_customer ON contacts(tenant_id, customer_id);

CREATE TABLE products (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    name TEXT NOT NULL,
    sku TEXT, series TEXT, description TEXT,
    price REAL, currency TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX products_id ON products(id);
CREATE INDEX products_tenant ON products(tenant_id);
CREATE UNIQUE INDEX products_ext ON products(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX products_name ON products(tenant_id, name);

CREATE TABLE pipelines (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    name TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    stages TEXT NOT NULL,            -- JSON [{key,label,outcome,probability}]
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX pipelines_id ON pipelines(id);
CREATE INDEX pipelines_tenant ON pipelines(tenant_id);
CREATE UNIQUE INDEX pipelines_name ON pipelines(tenant_id, name);
CREATE UNIQUE INDEX pipelines_ext ON pipelines(tenant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE deals (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    name TEXT,
    customer_id TEXT, contact_id TEXT, product_id TEXT,
    pipeline_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    amount REAL, currency TEXT NOT NULL,
    engage_date TEXT, close_date TEXT, expected_close_date TEXT,
    stage_changed_at TEXT NOT NULL,
    owner_id TEXT, unit_id TEXT,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX deals_id ON deals(id);
CREATE INDEX deals_tenant ON deals(tenant_id);
CREATE UNIQUE INDEX deals_ext ON deals(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX deals_stage ON deals(tenant_id, stage);
CREATE INDEX deals_customer ON deals(tenant_id, customer_id);
CREATE INDEX deals_owner ON deals(tenant_id, owner_id);

-- Every stage change of a deal, with its time, for cycle-time analysis.
CREATE TABLE deal_stage_changes (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    deal_id TEXT NOT NULL,
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT
);
CREATE INDEX deal_stage_changes_deal ON deal_stage_changes(tenant_id, deal_id, rid);

CREATE TABLE tickets (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    subject TEXT NOT NULL,
    description TEXT,
    customer_id TEXT, contact_id TEXT,
    type TEXT,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    channel TEXT,
    opened_at TEXT NOT NULL,
    first_response_at TEXT, resolved_at TEXT,
    satisfaction REAL,
    resolution TEXT,
    owner_id TEXT, unit_id TEXT,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX tickets_id ON tickets(id);
CREATE INDEX tickets_tenant ON tickets(tenant_id);
CREATE UNIQUE INDEX tickets_ext ON tickets(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX tickets_customer ON tickets(tenant_id, customer_id);
CREATE INDEX tickets_status ON tickets(tenant_id, status);
CREATE INDEX tickets_opened ON tickets(tenant_id, opened_at);

CREATE TABLE activities (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    kind TEXT NOT NULL,
    subject TEXT,
    body TEXT,
    direction TEXT,
    customer_id TEXT, contact_id TEXT, deal_id TEXT, ticket_id TEXT,
    occurred_at TEXT NOT NULL,
    owner_id TEXT, unit_id TEXT,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX activities_id ON activities(id);
CREATE INDEX activities_tenant ON activities(tenant_id);
CREATE UNIQUE INDEX activities_ext ON activities(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX activities_customer ON activities(tenant_id, customer_id, occurred_at);
CREATE INDEX activities_deal ON activities(tenant_id, deal_id) WHERE deal_id IS NOT NULL;
CREATE INDEX activities_ticket ON activities(tenant_id, ticket_id) WHERE ticket_id IS NOT NULL;

-- Per-tenant registry of custom fields (stored in each object's attrs).
CREATE TABLE custom_fields (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    object TEXT NOT NULL,
    name TEXT NOT NULL,
    label TEXT,
    type TEXT NOT NULL,               -- text, number, date, bool, enum
    options TEXT,                     -- JSON array for enum
    required INTEGER NOT NULL DEFAULT 0,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX custom_fields_id ON custom_fields(id);
CREATE INDEX custom_fields_tenant ON custom_fields(tenant_id);
CREATE UNIQUE INDEX custom_fields_name ON custom_fields(tenant_id, object, name);
CREATE UNIQUE INDEX custom_fields_ext ON custom_fields(tenant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE api_keys (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL UNIQUE,          -- key_...; also the visible token prefix
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL,        -- SHA-256 of the whole token
    scopes TEXT NOT NULL,             -- "read", "read write", "read write admin"
    created_by TEXT,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE sessions (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    user_rid INTEGER NOT NULL REFERENCES users(rid) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,  -- SHA-256 of the cookie value
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,      -- unix ms
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Audit trail: one row per mutation, chained per tenant:
-- hash = SHA-256(previous hash || content_hash). Erasure may blank
-- `changes` (redacted = 1) and keep content_hash, so the chain verifies.
CREATE TABLE audit (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor_type TEXT NOT NULL,         -- user, api_key, import_job, cli, system
    actor_id TEXT,
    source TEXT,                      -- source system
    trigger TEXT NOT NULL,            -- api, import, cli, ...
    request_id TEXT,
    object TEXT NOT NULL,
    object_id TEXT NOT NULL,
    action TEXT NOT NULL,             -- create, update, delete
    changes TEXT NOT NULL,            -- {"field":[before,after],...}
    content_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    redacted INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX audit_seq ON audit(tenant_id, seq);
CREATE INDEX audit_object ON audit(tenant_id, object_id, seq);

CREATE TABLE idempotency_keys (
    tenant_id INTEGER NOT NULL,
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    status INTEGER NOT NULL,
    location TEXT,
    etag TEXT,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, principal, key)
) WITHOUT ROWID;

CREATE TABLE jobs (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,               -- import
    status TEXT NOT NULL,             -- queued, running, succeeded, failed
    object TEXT,
    total INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    params TEXT NOT NULL,
    file TEXT,
    error TEXT,
    created_by TEXT,
    actor_type TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX jobs_tenant ON jobs(tenant_id, rid);
CREATE INDEX jobs_status ON jobs(status);

CREATE TABLE job_errors (
    rid INTEGER PRIMARY KEY,
    job_rid INTEGER NOT NULL REFERENCES jobs(rid) ON DELETE CASCADE,
    row INTEGER NOT NULL,             -- data row number (1 = first row after the header)
    field TEXT,
    message TEXT NOT NULL
);
CREATE INDEX job_errors_job ON job_errors(job_rid, row);

-- Full-text index over customers, contacts, tickets and activities.
-- rowid = object rid * 16 + kind. `scope` holds "t<tenant rid>"; it is
-- UNINDEXED and compared in SQL next to the MATCH, so a query reads only
-- its own terms' doclists. Tokenizer: search.c.
CREATE VIRTUAL TABLE search_index USING fts5(
    scope UNINDEXED, title, body, tokenize = 'axon'
);
