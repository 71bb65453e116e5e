-- Point-in-time restore replays the journal, so each entry also keeps the exact after-image
-- of what it changed, as stored: {"table": ..., "row": {column: value, ...}, "search": [...]}
-- for a create or update (the row and its search words), {"table": ...} for a delete.
-- Entries written before this migration have none; restore never needs them, because every
-- backup starts from a snapshot taken after it.
ALTER TABLE journal ADD COLUMN image TEXT;
