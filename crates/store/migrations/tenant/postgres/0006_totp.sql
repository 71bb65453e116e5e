-- TOTP second factor (issue 4). A migration of its own: 0003 had been merged already.

-- TOTP second factor (RFC 6238): one per user. The secret must be readable to check codes;
-- last_step is the last time step accepted, so a code cannot be used twice.
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    confirmed_at TEXT,
    last_step    BIGINT NOT NULL
);

-- Single-use recovery codes, stored as SHA-256 (each has 80 random bits).
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (user_id, code_hash)
);
