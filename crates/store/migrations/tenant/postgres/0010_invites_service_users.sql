-- Invitations and service users (issue 4, items 5 and 7). 0010: 0009 is left to work
-- written in parallel; sqlx applies every migration it has not applied, gaps included.

-- A person signs in with a password (and second factors); a service user is an
-- integration: it has no password and no sessions, only API tokens that a holder of
-- users.manage makes for it.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person'
    CHECK (kind IN ('person', 'service'));

-- A one-time invitation link: the link carries a random token, this table only its
-- SHA-256 (`id`). Used once (the row goes when the invitee sets a password), replaced by a
-- new invitation of the same user, and void after `expires_at`. Not backed up, like
-- sessions: a restore brings no old link back to life.
CREATE TABLE invites (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
