-- Capacity samples: how many bytes each subject (the data directory's filesystem, the
-- catalog, each tenant database, the audit logs, each backup destination) took at a moment,
-- taken daily by the `capacity.sample` job and by `skjold capacity --sample`. The forecast
-- of when space runs out fits a line through them. A few rows a day: kept, not pruned.
CREATE TABLE capacity_samples (
    at          TEXT NOT NULL,     -- RFC 3339, UTC, from the injected clock
    subject     TEXT NOT NULL,     -- disk:data_dir, database:catalog, database:tenant:<slug>, audit_logs, backups:<destination>
    bytes       BIGINT NOT NULL,   -- used
    total_bytes BIGINT,            -- the size of the filesystem or store, when it has one we know
    PRIMARY KEY (subject, at)
);
