-- The status page's data: what operators announce (maintenance, incidents, overrides), who
-- may use the operator API, and what the probes found. Installation-wide, so in the catalog.

-- Announced maintenance. The state (scheduled, in progress, completed) follows from the
-- clock; only a cancellation is stored.
CREATE TABLE maintenance_windows (
    id           TEXT PRIMARY KEY,
    summary      TEXT NOT NULL,
    components   TEXT NOT NULL,            -- JSON array of component names
    starts_at    TEXT NOT NULL,
    ends_at      TEXT NOT NULL,
    announced_at TEXT NOT NULL,
    announced_by TEXT NOT NULL,
    emergency    INTEGER NOT NULL DEFAULT 0,
    reason       TEXT,
    cancelled_at TEXT,
    cancelled_by TEXT
);
CREATE INDEX maintenance_windows_by_end ON maintenance_windows(ends_at);

CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL,             -- investigating, identified, monitoring, resolved
    impact      TEXT NOT NULL,             -- degraded, partial_outage, major_outage
    components  TEXT NOT NULL,             -- JSON array of component names
    opened_at   TEXT NOT NULL,
    opened_by   TEXT NOT NULL,
    resolved_at TEXT ,
    review      TEXT
);
CREATE INDEX incidents_by_opened ON incidents(opened_at);

-- An incident's timeline, oldest first by seq.
CREATE TABLE incident_updates (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    seq         INTEGER NOT NULL,
    at          TEXT NOT NULL,
    status      TEXT NOT NULL,
    message     TEXT NOT NULL,
    by_whom     TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);

-- An operator's statement about a component, which wins over the probes until cleared.
CREATE TABLE status_overrides (
    component TEXT PRIMARY KEY,
    state     TEXT NOT NULL,
    reason    TEXT NOT NULL,
    set_by    TEXT NOT NULL,
    set_at    TEXT NOT NULL
);

-- The latest probe of each component (any node's), and a day's tally for the uptime history.
CREATE TABLE status_probes (
    component TEXT PRIMARY KEY,
    state     TEXT NOT NULL,
    detail    TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE TABLE status_days (
    component   TEXT NOT NULL,
    day         TEXT NOT NULL,          -- YYYY-MM-DD (UTC)
    probes      INTEGER NOT NULL,
    operational INTEGER NOT NULL,             -- probes that found it operational or in announced maintenance
    worst       INTEGER NOT NULL,             -- the worst state's rank (0 operational … 4 major outage)
    PRIMARY KEY (component, day)
);

-- Bearer tokens for the operator API (/ops/api/v1). Only a SHA-256 of the secret is kept.
CREATE TABLE operator_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

-- Who is told about maintenance and incidents: an e-mail address or a webhook, added by a
-- tenant's administrator (tenant set) or an operator (tenant NULL). A webhook's signing
-- secret is kept to sign each delivery, and the secret of the unsubscribe link in each message.
CREATE TABLE status_subscriptions (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,        -- email, webhook
    target           TEXT NOT NULL,        -- the address or the URL
    signing_secret   TEXT,                 -- webhooks only
    unsubscribe_token TEXT NOT NULL UNIQUE,
    tenant           TEXT,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX status_subscriptions_by_tenant ON status_subscriptions(tenant);

-- One notification to one subscriber, until delivered or given up.
CREATE TABLE status_deliveries (
    event_key       TEXT NOT NULL,         -- e.g. maintenance:<id>:reminder-1h
    subscription_id TEXT NOT NULL,
    subject         TEXT NOT NULL,
    payload         TEXT NOT NULL,         -- JSON
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at    TEXT,
    given_up_at     TEXT,
    last_error      TEXT,
    PRIMARY KEY (event_key, subscription_id)
);
CREATE INDEX status_deliveries_due ON status_deliveries(next_attempt_at);
