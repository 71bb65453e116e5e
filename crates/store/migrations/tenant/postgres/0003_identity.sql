-- Identity and access (issue 4).

-- The tenant's settings, one JSON document per name (e.g. 'password_policy'). A missing
-- row means the built-in defaults.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT
);

-- A user's earlier password hashes, newest last, for the policy's history rule.
CREATE TABLE password_history (
    seq           BIGSERIAL PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    set_at        TEXT NOT NULL,
    password_hash TEXT NOT NULL
);
CREATE INDEX password_history_by_user ON password_history(user_id, seq);

-- Consecutive failed sign-ins and locks, per username as typed (lowercased): a username
-- that does not exist is counted and locked like one that does, so the answers do not
-- tell them apart.
CREATE TABLE sign_in_failures (
    username        TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    lock_count      BIGINT NOT NULL,
    locked_until    TEXT,
    last_failure_at TEXT NOT NULL
);

-- API tokens for integrations: a user's narrow, expiring credentials. Only a SHA-256 of
-- the token is stored; scopes are a JSON array such as ["companies:read"].
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_used_at TEXT,
    last_used_ip TEXT
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id, created_at);
