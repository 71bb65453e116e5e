-- The catalog: which tenants exist and where each one's data lives.
-- Tenant data itself is never here: each tenant has a database of its own.
CREATE TABLE tenants (
    slug         TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    -- 'sqlite:tenants/<slug>/crm.db' or 'postgres:<database name>'
    location     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
