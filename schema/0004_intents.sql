-- 0004_intents.sql: business-intent dictionaries, trained text models, the
-- tags of activities and tickets, and customers' decaying intent profiles.
--
-- A tenant uploads term tables; each upload is a numbered version kept for
-- good (intent_dictionaries, its terms in intent_terms) and one version is
-- active (intent_active; none = Axon's built-in dictionary, version 0).
-- Models (classifiers trained from labelled CSV) are versions too; one
-- sentiment model is active (model_active; none = the built-in one).
-- Every activity and ticket written is tagged in the same transaction
-- (text_tags), and the tags of a customer's records feed the customer's
-- profile: per intent a score that decays with a half-life and rises with
-- each signal (customer_intents), and a decaying sentiment average
-- (customer_sentiment). Scores are stored as of ref_ms and decayed to the
-- time of reading. Owners: intents.c, models.c, tags.c.

CREATE TABLE intent_dictionaries (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    version INTEGER NOT NULL,                 -- 1, 2, … per tenant
    digest TEXT NOT NULL,                     -- intent_dict_digest()
    terms INTEGER NOT NULL,
    report TEXT NOT NULL,                     -- load report (intent_report_json)
    file_name TEXT,
    file_size INTEGER NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX intent_dictionaries_version ON intent_dictionaries(tenant_id, version);

-- The compiled terms of a version, in the dictionary's own order.
CREATE TABLE intent_terms (
    dict_rid INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    intent TEXT NOT NULL,
    term TEXT NOT NULL,
    weight REAL NOT NULL,
    lang TEXT NOT NULL,
    row INTEGER NOT NULL,                     -- CSV row it came from
    PRIMARY KEY (dict_rid, seq)
) WITHOUT ROWID;

CREATE TABLE intent_active (
    tenant_id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL                  -- 0: the built-in dictionary
);

CREATE TABLE models (
    rid INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(rid),
    id TEXT NOT NULL UNIQUE,                  -- mdl_…
    version INTEGER NOT NULL,                 -- 1, 2, … per tenant
    name TEXT NOT NULL,
    kind TEXT NOT NULL,                       -- sentiment, classifier
    status TEXT NOT NULL,                     -- training, ready, failed
    job_id TEXT,
    options TEXT NOT NULL,                    -- training options, JSON
    labels TEXT,                              -- JSON array
    positive TEXT,                            -- sentiment: the positive label
    report TEXT,                              -- held-out evaluation, JSON
    rows_total INTEGER NOT NULL DEFAULT 0,
    rows_trained INTEGER NOT NULL DEFAULT 0,
    rows_held_out INTEGER NOT NULL DEFAULT 0,
    rows_skipped INTEGER NOT NULL DEFAULT 0,
    blob BLOB,                                -- clf_save()
    size INTEGER,
    sha256 TEXT,
    train_ms INTEGER,
    error TEXT,
    file_name TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE UNIQUE INDEX models_version ON models(tenant_id, version);

CREATE TABLE model_active (
    tenant_id INTEGER PRIMARY KEY,
    model_rid INTEGER NOT NULL                -- models.rid of a ready sentiment model
);

-- Tags of one activity or ticket (the latest text). `intents` is the
-- evidence as served; `scores` ({intent: score}) is what the profile got.
CREATE TABLE text_tags (
    rid INTEGER PRIMARY KEY,                  -- appended in write order
    object_id TEXT NOT NULL,
    tenant_id INTEGER NOT NULL,
    object TEXT NOT NULL,                     -- activities, tickets
    customer_id TEXT,
    signal_ms INTEGER NOT NULL,               -- occurred_at / opened_at
    intents TEXT NOT NULL,
    scores TEXT NOT NULL,
    sentiment REAL,
    dict_version INTEGER NOT NULL,
    model_id TEXT,
    model_version INTEGER,
    tagged_at TEXT NOT NULL
);
CREATE UNIQUE INDEX text_tags_object ON text_tags(object_id);

CREATE TABLE customer_intents (
    tenant_id INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    intent TEXT NOT NULL,
    score REAL NOT NULL,                      -- as of ref_ms
    ref_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,                 -- latest signal
    signals INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, intent)
) WITHOUT ROWID;

CREATE TABLE customer_sentiment (
    tenant_id INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    total REAL NOT NULL,                      -- sum of decayed sentiments, as of ref_ms
    weight REAL NOT NULL,                     -- sum of their decay factors
    ref_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    signals INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
) WITHOUT ROWID;
