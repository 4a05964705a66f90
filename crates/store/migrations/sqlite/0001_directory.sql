-- Directory: organizations, accounts, services, addresses (SPEC §1–2).
-- Timestamps are Unix seconds; JSON columns hold small model values (portable to PostgreSQL,
-- where they become jsonb). Ids are never reused (AUTOINCREMENT): an id kept by a running
-- session or a log line must not come to name a new row.

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    -- Lowercased name: organizations are unique and looked up ignoring case, without relying
    -- on a backend-specific collation.
    name_key    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    login              TEXT NOT NULL UNIQUE,
    display_name       TEXT NOT NULL,
    password_hash      TEXT NOT NULL,
    totp_secret        TEXT,
    phone              TEXT,
    recovery_email     TEXT,
    credential_epoch   INTEGER NOT NULL DEFAULT 0,
    recovery_username  TEXT UNIQUE,
    must_choose_login  INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL
);

CREATE TABLE memberships (
    org_id   INTEGER NOT NULL REFERENCES organizations (id),
    user_id  INTEGER NOT NULL REFERENCES users (id),
    role     TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE services (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id               INTEGER NOT NULL REFERENCES organizations (id),
    domain               TEXT NOT NULL UNIQUE,
    address_quota        INTEGER NOT NULL,
    features             TEXT NOT NULL,   -- JSON ServiceFeatures
    default_permissions  INTEGER NOT NULL,
    signature_templates  TEXT NOT NULL,   -- JSON [SignatureTemplate]
    dkim                 TEXT,            -- JSON DkimKeyRef
    created_at           INTEGER NOT NULL
);
CREATE INDEX services_org ON services (org_id);

-- Every domain a service serves, its primary one included: the primary key makes "a domain
-- belongs to one service only, as primary or alias" a database guarantee, and recipient
-- resolution finds the service of any domain with one lookup.
CREATE TABLE service_domains (
    domain      TEXT PRIMARY KEY,
    service_id  INTEGER NOT NULL REFERENCES services (id),
    is_alias    INTEGER NOT NULL
);
CREATE INDEX service_domains_service ON service_domains (service_id);

CREATE TABLE addresses (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id        INTEGER NOT NULL REFERENCES services (id),
    local_part        TEXT NOT NULL,
    -- The full address (local part @ primary domain), for logins and exact lookups.
    address           TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL,
    password_hash     TEXT,
    credential_epoch  INTEGER NOT NULL DEFAULT 0,
    enabled           INTEGER NOT NULL DEFAULT 1,
    storage_limit     INTEGER,
    redirect          TEXT,                -- JSON Redirection
    created_at        INTEGER NOT NULL,
    UNIQUE (service_id, local_part)
);
-- ADDR-2: one catch-all per service.
CREATE UNIQUE INDEX addresses_one_catchall ON addresses (service_id) WHERE kind = 'catchall';

CREATE TABLE aliases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    address_id  INTEGER NOT NULL REFERENCES addresses (id),
    -- Denormalised from the address so that (service, local part) is unique across aliases.
    service_id  INTEGER NOT NULL REFERENCES services (id),
    local_part  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (service_id, local_part)
);
CREATE INDEX aliases_address ON aliases (address_id);

CREATE TABLE access (
    user_id      INTEGER NOT NULL REFERENCES users (id),
    address_id   INTEGER NOT NULL REFERENCES addresses (id),
    permissions  INTEGER NOT NULL,
    PRIMARY KEY (user_id, address_id)
);
CREATE INDEX access_address ON access (address_id);
