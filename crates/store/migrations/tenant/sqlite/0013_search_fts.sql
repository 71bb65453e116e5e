-- Search through the engine built for it (issue 19): one row per record in search_docs with
-- the record's normalised words (folded in Rust, see crates/store/src/search.rs), and an
-- FTS5 index over them kept in step by triggers. The hand-made word table goes.
--
-- sort_key and owner_id are copies of the record's, written with it in the same
-- transaction: a search orders and filters by sight without reading the record tables,
-- and walks search_docs_by_sort in name order when a query matches too many records to sort.
CREATE TABLE search_docs (
    -- An explicit INTEGER PRIMARY KEY: the FTS index refers to rows by it, and VACUUM
    -- (INTO, as snapshots use) keeps such keys, unlike implicit rowids.
    doc       INTEGER PRIMARY KEY,
    entity    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    sort_key  TEXT NOT NULL,
    owner_id  TEXT,
    words     TEXT NOT NULL,
    UNIQUE (entity, record_id)
);
-- Covering, so that a walk in name order tests each record's words from the index alone.
CREATE INDEX search_docs_by_sort ON search_docs(entity, sort_key, record_id, owner_id, words);
-- A reader who sees only their own records walks their own.
CREATE INDEX search_docs_by_owner ON search_docs(entity, owner_id, sort_key, record_id);

-- The words are already folded and separated by single spaces; e-mail addresses keep
-- @ . _ + - so that an address is one token. Prefix indexes answer 1-3 letter prefixes
-- without walking the vocabulary; detail=column keeps the index small (no phrase queries
-- are ever made: every query word is one token).
CREATE VIRTUAL TABLE search_fts USING fts5(
    entity, words,
    content = 'search_docs', content_rowid = 'doc',
    prefix = '1 2 3', detail = column,
    tokenize = "ascii tokenchars '@._+-'"
);
CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_fts (rowid, entity, words) VALUES (new.doc, new.entity, new.words);
END;
CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_fts (search_fts, rowid, entity, words)
    VALUES ('delete', old.doc, old.entity, old.words);
END;
CREATE TRIGGER search_docs_update AFTER UPDATE ON search_docs BEGIN
    INSERT INTO search_fts (search_fts, rowid, entity, words)
    VALUES ('delete', old.doc, old.entity, old.words);
    INSERT INTO search_fts (rowid, entity, words) VALUES (new.doc, new.entity, new.words);
END;

-- Existing records are indexed when the tenant is next opened (the words are folded in
-- Rust; see search_index::backfill), one record type per transaction.
DROP TABLE search_tokens;
