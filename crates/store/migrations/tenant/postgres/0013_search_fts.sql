-- Search through the engine built for it (issue 19): one row per record in search_docs with
-- the record's normalised words (folded in Rust, see crates/store/src/search.rs), and a GIN
-- full-text index over them. The hand-made word table goes.
--
-- sort_key and owner_id are copies of the record's, written with it in the same
-- transaction: a search orders and filters by sight without reading the record tables,
-- and walks search_docs_by_sort in name order when a query matches too many records to sort.
CREATE TABLE search_docs (
    entity    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    sort_key  TEXT COLLATE "C" NOT NULL,
    owner_id  TEXT,
    words     TEXT NOT NULL,
    PRIMARY KEY (entity, record_id)
);
CREATE INDEX search_docs_by_sort ON search_docs(entity, sort_key, record_id);
CREATE INDEX search_docs_by_owner ON search_docs(entity, owner_id, sort_key, record_id);

-- The lexemes are the words as they are (array_to_tsvector does not parse or stem), plus
-- '#<entity>' (no word holds '#'), so that one index answers "persons with words …". An
-- expression index rather than a stored tsvector column: backups carry text and integers.
-- The expression is a PL/pgSQL function (never inlined) with a high cost: with the bare
-- expression the planner priced computing it for every row at next to nothing and chose
-- a sequential scan over the index (17 ms against 0.3 ms at 20,000 rows, measured).
-- Queries call search_tsvector(d.entity, d.words) to use the index.
CREATE FUNCTION search_tsvector(entity TEXT, words TEXT) RETURNS tsvector
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 10000
    AS $$ BEGIN RETURN array_to_tsvector(('#' || entity) || string_to_array(words, ' ')); END $$;
CREATE INDEX search_docs_words ON search_docs USING gin (search_tsvector(entity, words));

-- Existing records are indexed when the tenant is next opened (the words are folded in
-- Rust; see search_index::backfill), one record type per transaction.
DROP TABLE search_tokens;
