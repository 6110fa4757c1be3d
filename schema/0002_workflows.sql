-- 0002_workflows.sql: Lua workflow packs, events and their outbox, the run
-- log, suggestions, approvals and the outbound queue.
--
-- A pack (packs) has versions (pack_versions) whose files are kept
-- (pack_files): versions are immutable, so a published version can always
-- be rolled back to. Publishing writes the version's handlers into
-- pack_handlers, the table every write consults (one indexed lookup), and
-- its schedules into pack_schedules. An object write that has after
-- handlers subscribed writes an event and one delivery per handler in the
-- same transaction (the durable outbox); the dispatcher runs deliveries
-- until they succeed or are dead-lettered.

CREATE TABLE packs (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'draft',     -- draft, published, disabled
    published_version INTEGER,                -- pack_versions.rid while published
    previous_version INTEGER,                 -- what rollback returns to by default
    scope TEXT,                               -- tenant, unit (while published)
    unit_id TEXT,
    settings TEXT NOT NULL DEFAULT '{}',      -- values of the manifest's settings
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX packs_name ON packs(tenant_id, name);

CREATE TABLE pack_versions (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    pack_rid INTEGER NOT NULL REFERENCES packs(rid),
    id TEXT NOT NULL UNIQUE,                  -- pkv_…: the actor of the version's writes
    version TEXT NOT NULL,                    -- from the manifest
    manifest TEXT NOT NULL,                   -- normalised JSON
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    findings TEXT NOT NULL,                   -- compliance scan, JSON array
    blocking INTEGER NOT NULL,                -- error findings (publishing needs 0)
    tests TEXT NOT NULL,                      -- the pack's own tests, JSON report
    tests_failed INTEGER NOT NULL,
    uploaded_by TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX pack_versions_version ON pack_versions(pack_rid, version);

CREATE TABLE pack_files (
    version_rid INTEGER NOT NULL,
    path TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (version_rid, path)
) WITHOUT ROWID;

-- Publication history: publish, disable, rollback.
CREATE TABLE pack_publications (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    pack_rid INTEGER NOT NULL,
    version_rid INTEGER,
    action TEXT NOT NULL,
    scope TEXT,
    unit_id TEXT,
    actor TEXT,
    at TEXT NOT NULL
);
CREATE INDEX pack_publications_pack ON pack_publications(pack_rid, rid);

-- Handlers of published versions, denormalised for the write path.
CREATE TABLE pack_handlers (
    tenant_id INTEGER NOT NULL,
    event TEXT NOT NULL,                      -- deals.created, deals.stage_changed …
    phase TEXT NOT NULL,                      -- before, after
    ord INTEGER NOT NULL,
    pack_rid INTEGER NOT NULL,
    version_rid INTEGER NOT NULL,
    fn TEXT NOT NULL,
    unit_id TEXT                              -- NULL: the whole tenant
);
CREATE INDEX pack_handlers_event ON pack_handlers(tenant_id, event, phase, ord);
CREATE INDEX pack_handlers_pack ON pack_handlers(pack_rid);

CREATE TABLE pack_schedules (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    pack_rid INTEGER NOT NULL,
    version_rid INTEGER NOT NULL,
    fn TEXT NOT NULL,
    every_s INTEGER,                          -- every N seconds, or
    daily TEXT,                               -- "HH:MM" UTC
    next_at INTEGER NOT NULL                  -- unix ms
);
CREATE INDEX pack_schedules_due ON pack_schedules(next_at);
CREATE INDEX pack_schedules_pack ON pack_schedules(pack_rid);

CREATE TABLE events (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,                  -- evt_…, handed to handlers for idempotency
    type TEXT NOT NULL,
    object_id TEXT,
    payload TEXT NOT NULL,                    -- the event as handlers see it
    depth INTEGER NOT NULL DEFAULT 0,         -- how many handler writes led here
    created_at TEXT NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, rid);

-- One row per (event, after handler) or schedule firing.
CREATE TABLE deliveries (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,                  -- dlv_…
    event_rid INTEGER,                        -- NULL for a schedule
    pack_rid INTEGER NOT NULL,
    version_rid INTEGER NOT NULL,
    fn TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending, done, dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,                 -- unix ms
    last_error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX deliveries_due ON deliveries(next_at) WHERE status = 'pending';
CREATE INDEX deliveries_pack ON deliveries(pack_rid, status, rid);
CREATE INDEX deliveries_event ON deliveries(event_rid);

-- Every handler invocation: what ran, how long, how it ended.
CREATE TABLE pack_runs (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    pack_rid INTEGER NOT NULL,
    version_rid INTEGER NOT NULL,
    event_id TEXT,
    delivery_id TEXT,
    event TEXT,                               -- event type or "schedule"
    phase TEXT NOT NULL,                      -- before, after, schedule
    fn TEXT NOT NULL,
    started_at TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    instructions INTEGER NOT NULL,
    memory INTEGER NOT NULL,
    host_calls INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    outcome TEXT NOT NULL,                    -- ok, error, rejected, killed
    error TEXT,
    traceback TEXT,
    location TEXT,                            -- "route.lua:12"
    logs TEXT                                 -- axon.log lines, JSON array
);
CREATE INDEX pack_runs_pack ON pack_runs(pack_rid, rid);

-- Calls a pack asked for; a later release's connectors deliver them.
CREATE TABLE outbound (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,                  -- out_…
    kind TEXT NOT NULL,                       -- http, email
    method TEXT,
    target TEXT NOT NULL,                     -- URL or e-mail address
    request TEXT NOT NULL,                    -- JSON: headers, body, subject …
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    created_by TEXT,                          -- pkv_…
    event_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX outbound_tenant ON outbound(tenant_id, rid);
CREATE INDEX outbound_due ON outbound(next_at) WHERE status = 'queued';

CREATE TABLE suggestions (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    title TEXT NOT NULL,
    action TEXT,
    customer_id TEXT, deal_id TEXT, ticket_id TEXT,
    evidence TEXT,
    rule TEXT,
    rule_version TEXT,
    status TEXT NOT NULL,
    status_reason TEXT,
    expires_at TEXT,
    dedupe_key TEXT,
    occurrences INTEGER NOT NULL DEFAULT 1,
    owner_id TEXT, unit_id TEXT,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX suggestions_id ON suggestions(id);
CREATE INDEX suggestions_tenant ON suggestions(tenant_id);
CREATE UNIQUE INDEX suggestions_ext ON suggestions(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX suggestions_customer ON suggestions(tenant_id, customer_id);
CREATE INDEX suggestions_dedupe ON suggestions(tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX suggestions_status ON suggestions(tenant_id, status);

CREATE TABLE approvals (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_by TEXT,
    title TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    request TEXT,
    reason TEXT,
    status TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    comment TEXT,
    owner_id TEXT, unit_id TEXT,
    external_id TEXT, attrs TEXT, doc TEXT NOT NULL
);
CREATE UNIQUE INDEX approvals_id ON approvals(id);
CREATE INDEX approvals_tenant ON approvals(tenant_id);
CREATE UNIQUE INDEX approvals_ext ON approvals(tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX approvals_status ON approvals(tenant_id, status);

-- A deal's next follow-up, and tasks (activities of kind task) with a due
-- time and a completion time.
ALTER TABLE deals ADD COLUMN follow_up_date TEXT;
ALTER TABLE activities ADD COLUMN due_at TEXT;
ALTER TABLE activities ADD COLUMN completed_at TEXT;
