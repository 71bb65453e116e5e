-- The audit trail's database copy: every access and security event, hash-chained.
-- Rows are only ever inserted: no code path updates or deletes them (retention removes
-- whole closed days and leaves an anchor record in the chain).
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,  -- position in the chain, assigned by the writer
    at          TEXT NOT NULL,
    chain       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    request_id  TEXT,
    user_id     TEXT,
    username    TEXT,
    ip          TEXT,
    method      TEXT,
    path        TEXT,
    status      INTEGER,
    duration_ms INTEGER,
    bytes       INTEGER,
    user_agent  TEXT,
    detail      TEXT,                 -- JSON
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit_log(at, seq);
CREATE INDEX audit_by_user ON audit_log(username, at, seq);
CREATE INDEX audit_by_ip ON audit_log(ip, at, seq);
CREATE INDEX audit_by_kind ON audit_log(kind, at, seq);
