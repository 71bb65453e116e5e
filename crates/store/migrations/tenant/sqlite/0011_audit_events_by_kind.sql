-- Searching by kind looks for security events (failed sign-ins, role changes …), which are
-- a few in a hundred records; access records are found by time, user or address. An index
-- over every record's kind cost each access record a fourth index entry that no search
-- used, so the kind index now holds the other kinds only. A search by kind names the
-- index's condition (`kind <> 'http.access'`) so that both databases can use it; a search
-- for access records walks the time index.
DROP INDEX audit_by_kind;
CREATE INDEX audit_events_by_kind ON audit_log(kind, at, seq) WHERE kind <> 'http.access';
