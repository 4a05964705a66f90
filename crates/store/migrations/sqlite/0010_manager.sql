-- The Manager's records (issue 8): API tokens, signed-in sessions of user accounts, invitations
-- (ADDR-1 b') and the sender allow/block lists of mailboxes (RCV-4); plus two columns the
-- address creation modes of ADDR-1 need.
--
-- Secrets are never stored: a token, a session cookie or an invitation link is a random value
-- of which only its SHA-256 hex digest is kept, so a copy of this file opens nothing. The
-- digests are UNIQUE because they are how a request finds its row.

-- ADDR-3 / ADDR-1: the name shown with the address in mail sent from it. NOT NULL with '' for
-- "none", so existing rows need no backfill and readers never handle two kinds of empty.
ALTER TABLE addresses ADD COLUMN display_name TEXT NOT NULL DEFAULT '';

-- SVC-4: the signature template picked when the access was granted, by name. A name rather
-- than a copy of the text: the administrator edits the template once for everybody.
ALTER TABLE access ADD COLUMN signature TEXT;

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL: the platform operator's token (created with the CLI on the data folder), which
    -- no user account owns.
    owner_id      INTEGER REFERENCES users (id),
    name          TEXT NOT NULL,
    -- The public first part of the token: a request's token is found by it, then its digest
    -- compared, so a lookup never scans digests.
    prefix        TEXT NOT NULL UNIQUE,
    secret_hash   TEXT NOT NULL,
    scope         TEXT NOT NULL,   -- read | write
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,         -- NULL: until revoked
    last_used_at  INTEGER,
    -- Revoked tokens stay, so their owner still sees what existed and when it stopped working.
    revoked_at    INTEGER
);
CREATE INDEX api_tokens_owner ON api_tokens (owner_id);

CREATE TABLE web_sessions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id           INTEGER NOT NULL REFERENCES users (id),
    secret_hash       TEXT NOT NULL UNIQUE,
    -- ID-6: the account's credential epoch at sign-in; a password change bumps the account's,
    -- and a session whose epoch differs no longer works.
    credential_epoch  INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    last_seen_at      INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    -- For the account's list of its sessions only (where, which browser).
    ip                TEXT,
    user_agent        TEXT
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

CREATE TABLE invitations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    address_id   INTEGER NOT NULL REFERENCES addresses (id),
    secret_hash  TEXT NOT NULL UNIQUE,
    -- Where the invitation was sent: the created address or the person's own address.
    sent_to      TEXT NOT NULL,
    login_mode   TEXT NOT NULL,      -- exact_address | own_choice
    -- What the access granted on acceptance carries (ADDR-9, SVC-4); fixed at invitation
    -- time, as the administrator chose them.
    permissions  INTEGER NOT NULL,
    signature    TEXT,
    -- NULL: invited by the operator.
    invited_by   INTEGER REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    -- Set once: an invitation is used at most once.
    accepted_at  INTEGER,
    accepted_by  INTEGER REFERENCES users (id)
);
-- Listing an address's invitations, and removing them with the address (ADDR-8).
CREATE INDEX invitations_address ON invitations (address_id);

-- RCV-4: one row per pattern of a mailbox's list. The key makes a pattern appear once per
-- mailbox, so a sender is never both allowed and blocked by the same pattern; changing the
-- kind updates the row.
CREATE TABLE sender_rules (
    address_id  INTEGER NOT NULL REFERENCES addresses (id),
    kind        TEXT NOT NULL,       -- allow | block
    -- user@example.com for a sender, @example.com for a domain and its subdomains.
    pattern     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (address_id, pattern)
);
