-- Passkeys, TOTP management and the tenant's two-factor requirement (issue 4, items 3 and 7).
-- 0008, not 0007: tenant migration 0007 (custom roles) is written in parallel; sqlx applies
-- every migration it has not applied yet, so the gap closes without harm when it lands.

-- One row per WebAuthn credential of a user. `credential` is the relying-party library's
-- record of it as JSON (public key, signature counter, backup flags): nothing secret, but
-- it must not be edited by hand. `cred_id` (base64url) finds the row at sign-in and is
-- unique across the tenant, as WebAuthn asks.
CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    cred_id      TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    credential   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A WebAuthn ceremony between its two requests (options, then the authenticator's answer).
-- The state (its challenge) stays here and never goes to the client, which gets only a
-- random ceremony token whose SHA-256 is `id`. Used once, and only until `expires_at`.
CREATE TABLE webauthn_ceremonies (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    username   TEXT,
    state      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Keys the server makes for itself per tenant, e.g. the HMAC key that derives the decoy
-- credential ids shown for unknown usernames. Not backed up: a restored tenant makes new ones.
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- An administrator can require a second factor of one user, beyond the tenant's policy.
ALTER TABLE users ADD COLUMN two_factor_required BIGINT NOT NULL DEFAULT 0;

-- A restricted session: the password was right, but the user must enrol a second factor
-- first and may reach only the enrolment routes until they have.
ALTER TABLE sessions ADD COLUMN restricted BIGINT NOT NULL DEFAULT 0;
