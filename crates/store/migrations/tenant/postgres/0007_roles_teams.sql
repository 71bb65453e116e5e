-- Custom roles, teams and record visibility (issue 4 item 6).

-- A role is a named set of rights plus how much of the tenant's records its holders see.
-- The four built-in roles are rows too (their ids are their names, which is what
-- users.role held before this migration, so existing users keep their roles); they cannot
-- be deleted, and the administrator's rights are fixed in code (it always has every right).
-- rights is a JSON array of right names.
CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    rights      TEXT NOT NULL,
    visibility  TEXT NOT NULL CHECK (visibility IN ('own', 'team', 'all')),
    builtin     BIGINT NOT NULL
);

INSERT INTO roles (id, name, description, rights, visibility, builtin) VALUES
('administrator', 'administrator', 'Everything, including users, roles, settings, audit and restore',
 '["companies.read","companies.write","companies.delete","persons.read","persons.write","persons.delete","activities.read","activities.write","activities.delete","sales.read","sales.write","sales.delete","documents.read","documents.write","documents.delete","users.read","users.manage","roles.manage","settings.manage","audit.read","backup.restore","export"]',
 'all', 1),
('manager', 'manager', 'All records, including deleting them; sees the users',
 '["companies.read","companies.write","companies.delete","persons.read","persons.write","persons.delete","activities.read","activities.write","activities.delete","sales.read","sales.write","sales.delete","documents.read","documents.write","documents.delete","users.read","export"]',
 'all', 1),
('user', 'user', 'Reads, creates and changes records',
 '["companies.read","companies.write","persons.read","persons.write","activities.read","activities.write","sales.read","sales.write","documents.read","documents.write"]',
 'all', 1),
('read-only', 'read-only', 'Reads records',
 '["companies.read","persons.read","activities.read","sales.read","documents.read"]',
 'all', 1);

-- Teams: a record is visible to a 'team' role's holder when its owner shares a team with
-- them. Memberships have an id of their own so the journal (keyed by id) can carry them.
CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE team_members (
    id       TEXT PRIMARY KEY,
    team_id  TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added_at TEXT NOT NULL,
    UNIQUE (team_id, user_id)
);
-- The visibility check walks user -> teams -> members.
CREATE INDEX team_members_by_user ON team_members(user_id, team_id);
