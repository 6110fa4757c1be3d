-- 0005_suggestions.sql: what happens to suggestions after a rule made them
-- (accepted, dismissed, completed, expired: with times and who decided),
-- the status of the rules that make them, and the monthly review audit.
--
-- `status` stays the source of truth; the times say when each outcome
-- happened. They are set by the server (sugg.c), never by clients.
ALTER TABLE suggestions ADD COLUMN accepted_at TEXT;
ALTER TABLE suggestions ADD COLUMN dismissed_at TEXT;
ALTER TABLE suggestions ADD COLUMN completed_at TEXT;
ALTER TABLE suggestions ADD COLUMN decided_by TEXT;

-- A month's suggestions per rule (samples, the report), a rule's volume,
-- a deal's accepted suggestions (the decision-chain KPI), and the open
-- suggestions whose time is up (the dispatcher's expiry, one probe a second).
CREATE INDEX suggestions_created ON suggestions(tenant_id, created_at);
CREATE INDEX suggestions_rule ON suggestions(tenant_id, rule);
CREATE INDEX suggestions_deal ON suggestions(tenant_id, deal_id) WHERE deal_id IS NOT NULL;
CREATE INDEX suggestions_due ON suggestions(expires_at)
    WHERE status = 'open' AND expires_at IS NOT NULL;

-- Rules whose status was set by hand. A rule with no row is active; a
-- retired rule makes no more suggestions (axon.suggest returns nil).
CREATE TABLE suggestion_rules (
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    rule TEXT NOT NULL,                       -- "<pack>/<rule>", as on suggestions.rule
    status TEXT NOT NULL,                     -- active, retired
    reason TEXT,
    changed_at TEXT NOT NULL,
    changed_by TEXT,
    PRIMARY KEY (tenant_id, rule)
) WITHOUT ROWID;

-- One drawn sample per tenant and month (drawing again returns it).
CREATE TABLE review_samples (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL UNIQUE,                  -- smp_…
    month TEXT NOT NULL,                      -- YYYY-MM (UTC)
    seed TEXT NOT NULL,                       -- hex SHA-256 of tenant and month
    population INTEGER NOT NULL,              -- the month's suggestions when drawn
    size INTEGER NOT NULL,
    rules TEXT NOT NULL,                      -- JSON [{rule, population, sampled}]
    drawn_at TEXT NOT NULL,
    drawn_by TEXT
);
CREATE UNIQUE INDEX review_samples_month ON review_samples(tenant_id, month);

-- The review queue: one row per sampled suggestion, and the verdict.
CREATE TABLE reviews (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL UNIQUE,                  -- rev_…
    sample_rid INTEGER NOT NULL REFERENCES review_samples(rid),
    month TEXT NOT NULL,
    position INTEGER NOT NULL,                -- order within the sample
    suggestion_id TEXT NOT NULL,
    rule TEXT,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending, done
    shortened INTEGER,                        -- 1: it shortened the path to the decision
    reason TEXT,
    reviewed_by TEXT,
    reviewed_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX reviews_queue ON reviews(tenant_id, month, status, rid);
