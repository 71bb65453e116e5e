-- Evidence of the backup machinery's work, kept in the catalog because it outlives any one
-- tenant database (a restore replaces those) and any one process (a restart must know what
-- already ran).

-- One row per run of a backup job or a restore: started when it begins, finished with its
-- outcome. A restore asked for through the API is polled through its row.
CREATE TABLE backup_runs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,     -- backup.snapshot, backup.prune, backup.drill, restore, ...
    tenant      TEXT,              -- NULL for an installation-wide run
    started_at  TEXT COLLATE "C" NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL,     -- running, ok, failed, skipped
    progress    TEXT,              -- the step a running job is at
    bytes       BIGINT,
    error       TEXT,
    detail      TEXT               -- JSON: what the run did or found
);
CREATE INDEX backup_runs_by_kind ON backup_runs(kind, started_at);
CREATE INDEX backup_runs_by_tenant ON backup_runs(tenant, started_at);

-- Restore drills: a recent point of a tenant restored into a scratch database and compared.
CREATE TABLE backup_drills (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    started_at  TEXT COLLATE "C" NOT NULL,
    finished_at TEXT NOT NULL,
    point       TEXT NOT NULL,     -- the instant restored to
    snapshot    TEXT,              -- the snapshot it started from
    outcome     TEXT NOT NULL,     -- passed, failed
    duration_ms BIGINT NOT NULL,
    replayed    BIGINT NOT NULL,  -- journal entries replayed on the snapshot
    compared    TEXT NOT NULL,     -- what was compared: manifest, or manifest+export
    error       TEXT
);
CREATE INDEX backup_drills_by_tenant ON backup_drills(tenant, started_at);

-- When a scheduled job last did its work (the nightly snapshot), so that a restart neither
-- repeats nor skips it.
CREATE TABLE job_marks (
    name    TEXT PRIMARY KEY,
    done_at TEXT NOT NULL
);
