-- One tenant's CRM. Every table here belongs to that tenant alone.
-- Timestamps are fixed-width RFC 3339 text in UTC (text order = time order).
-- sort_key / token columns compare bytewise (SQLite's default BINARY collation), the same
-- order PostgreSQL gives with COLLATE "C", so paging works alike on both.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    display_name        TEXT,
    email               TEXT,
    phone               TEXT,
    role                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    password_hash       TEXT,
    password_changed_at TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);

-- Server-side sessions. Only a SHA-256 of the bearer token is stored.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    sort_key    TEXT NOT NULL,
    name        TEXT NOT NULL,
    org_number  TEXT,
    address     TEXT,
    postal_code TEXT,
    city        TEXT,
    country     TEXT,
    phone       TEXT,
    email       TEXT,
    website     TEXT,
    category    TEXT,
    owner_id    TEXT REFERENCES users(id),
    notes       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX companies_by_sort ON companies(sort_key, id);
CREATE INDEX companies_by_owner ON companies(owner_id, sort_key, id);

CREATE TABLE persons (
    id          TEXT PRIMARY KEY,
    sort_key    TEXT NOT NULL,
    first_name  TEXT,
    last_name   TEXT NOT NULL,
    title       TEXT,
    company_id  TEXT REFERENCES companies(id),
    emails      TEXT NOT NULL,   -- JSON array of strings
    phones      TEXT NOT NULL,   -- JSON array of strings
    address     TEXT,
    postal_code TEXT,
    city        TEXT,
    country     TEXT,
    owner_id    TEXT REFERENCES users(id),
    notes       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX persons_by_sort ON persons(sort_key, id);
CREATE INDEX persons_by_company ON persons(company_id, sort_key, id);
CREATE INDEX persons_by_owner ON persons(owner_id, sort_key, id);

CREATE TABLE sales (
    id             TEXT PRIMARY KEY,
    sort_key       TEXT NOT NULL,
    title          TEXT NOT NULL,
    company_id     TEXT REFERENCES companies(id),
    person_id      TEXT REFERENCES persons(id),
    amount         TEXT,
    currency       TEXT NOT NULL,
    stage          TEXT NOT NULL,
    probability    INTEGER NOT NULL,
    expected_close TEXT,
    status         TEXT NOT NULL,
    owner_id       TEXT REFERENCES users(id),
    notes          TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX sales_by_sort ON sales(sort_key, id);
CREATE INDEX sales_by_company ON sales(company_id, sort_key, id);
CREATE INDEX sales_by_person ON sales(person_id, sort_key, id);
CREATE INDEX sales_by_owner ON sales(owner_id, sort_key, id);

CREATE TABLE activities (
    id         TEXT PRIMARY KEY,
    sort_key   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    starts_at  TEXT,
    ends_at    TEXT,
    due_at     TEXT,
    done       INTEGER NOT NULL,
    company_id TEXT REFERENCES companies(id),
    person_id  TEXT REFERENCES persons(id),
    sale_id    TEXT REFERENCES sales(id),
    owner_id   TEXT REFERENCES users(id),
    notes      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX activities_by_sort ON activities(sort_key, id);
CREATE INDEX activities_by_company ON activities(company_id, sort_key, id);
CREATE INDEX activities_by_person ON activities(person_id, sort_key, id);
CREATE INDEX activities_by_sale ON activities(sale_id, sort_key, id);
CREATE INDEX activities_by_owner ON activities(owner_id, sort_key, id);

-- The change journal: every create, update and delete of tenant data, written in the same
-- transaction as the change. Record history reads it; point-in-time restore replays it.
CREATE TABLE journal (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,   -- user id, or 'system:<what>'
    entity    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    op        TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    changed   TEXT NOT NULL,   -- JSON array of the field names that changed
    data      TEXT             -- JSON of the whole record after the change; NULL on delete
);
CREATE INDEX journal_by_record ON journal(entity, record_id, seq);
CREATE INDEX journal_by_time ON journal(at);

-- Word-prefix search: one row per (record, word). A prefix query is a range scan.
CREATE TABLE search_tokens (
    entity    TEXT NOT NULL,
    token     TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (entity, token, record_id)
) WITHOUT ROWID;
CREATE INDEX search_tokens_by_record ON search_tokens(entity, record_id, token);
