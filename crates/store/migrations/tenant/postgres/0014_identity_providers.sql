-- Single sign-on (issue 20): the tenant's OpenID Connect providers, the links between a
-- provider's accounts and the tenant's users, and the sign-ins under way. 0014: 0013 is
-- left to the search work written in parallel.

-- A provider the tenant's administrators registered. `kind` is a preset (entra, google)
-- or a generic provider (oidc); `issuer` is the issuer the tokens must name (for the
-- presets derived from the directory id or fixed). The client secret is sealed with the
-- installation's secrets key, bound to this tenant and provider id: the database alone
-- never holds it readable.
CREATE TABLE identity_providers (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('entra', 'google', 'oidc')),
    name            TEXT NOT NULL UNIQUE,
    client_id       TEXT NOT NULL,
    client_secret   TEXT NOT NULL,
    issuer          TEXT NOT NULL,
    directory_id    TEXT,
    hosted_domains  TEXT NOT NULL DEFAULT '[]',
    scopes          TEXT NOT NULL DEFAULT '[]',
    require_mfa     BIGINT NOT NULL DEFAULT 0,
    mfa_amr         TEXT NOT NULL DEFAULT '[]',
    mfa_acr         TEXT,
    jit_role        TEXT,
    sso_only        BIGINT NOT NULL DEFAULT 0,
    enabled         BIGINT NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- A provider's account (issuer + subject) that signs in as a user. One per user and
-- provider; made on first use (by a verified e-mail address, or by just-in-time creation)
-- and removed by unlinking.
CREATE TABLE identity_links (
    provider_id  TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    issuer       TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email        TEXT,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    PRIMARY KEY (provider_id, subject),
    UNIQUE (provider_id, user_id)
);
CREATE INDEX identity_links_user ON identity_links (user_id);

-- A sign-in sent to a provider and not back yet. Keyed by the SHA-256 of its `state`,
-- taken (deleted) by the callback, so a state is good once; `browser_hash` is the SHA-256
-- of a cookie only the starting browser holds. Lives for minutes; never backed up.
CREATE TABLE sso_flows (
    state_hash    TEXT PRIMARY KEY,
    provider_id   TEXT NOT NULL,
    browser_hash  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path     TEXT,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
