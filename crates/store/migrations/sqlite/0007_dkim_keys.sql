-- DKIM keys of mail services (SVC-1, SND-2; RFC 6376).
--
-- One row per key a service ever had. Rotation adds a row and makes it the active one; the old
-- rows stay (inactive), because receivers verify mail already in flight against the old
-- selector's record for a while (RFC 6376 §3.6.2.1: a signature names its key by selector),
-- and the administrator needs to see which records can be removed from the zone later.
-- `services.dkim` (JSON DkimKeyRef) repeats the active key's selector and algorithm, so reading
-- a service says which key signs without a second query.

CREATE TABLE dkim_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id   INTEGER NOT NULL REFERENCES services (id),
    -- RFC 6376 §3.1: the key record lives at <selector>._domainkey.<domain>.
    selector     TEXT NOT NULL,
    -- The a= tag of the signatures it makes (RFC 6376 §3.5): rsa-sha256 or ed25519-sha256.
    algorithm    TEXT NOT NULL,
    -- Unencrypted PKCS#8 DER (RFC 5208). Secret: never logged, never printed.
    private_key  BLOB NOT NULL,
    -- The p= tag of the key record (RFC 6376 §3.6.1): base64 of the SubjectPublicKeyInfo for
    -- RSA, of the raw 32-octet key for Ed25519 (RFC 8463 §4.2).
    public_key   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    active       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (service_id, selector)
);
-- At most one active key per service: the database keeps the rule even if a write forgets it.
CREATE UNIQUE INDEX dkim_keys_one_active ON dkim_keys (service_id) WHERE active = 1;
