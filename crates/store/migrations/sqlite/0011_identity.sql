-- Identity (issue 9, SPEC §1): two-factor enrolment and its recovery codes, password
-- unification (ID-5), account recovery (ID-8, ID-9), identity-verification requests, the SMS
-- outbox of the notifier (ID-12) and the audit log (ID-11).
--
-- Every code a person types (2FA recovery codes, reset codes) is kept as an Argon2id PHC string
-- only: they are short, so a fast digest of them could be reversed from a copy of this file.

-- ID-1: the TOTP secret of an enrolment that has been started but not yet confirmed with a
-- first code. It becomes `totp_secret` on confirmation; until then sign-in ignores it.
ALTER TABLE users ADD COLUMN totp_pending TEXT;

-- ID-5: set on the one access row whose account and mailbox share their password. A row that
-- is deleted (access revoked, address deleted) takes its unification with it.
ALTER TABLE access ADD COLUMN unified INTEGER NOT NULL DEFAULT 0;

-- ID-9: the phone number as digits only (a leading + kept), so "+41 79 123 45 67" and
-- "+41791234567" find the same accounts. Filled by the store whenever `phone` is written.
ALTER TABLE users ADD COLUMN phone_key TEXT;
CREATE INDEX users_phone_key ON users (phone_key);

-- ID-1: single-use codes that replace a TOTP code when the authenticator is lost, shown once
-- at enrolment.
CREATE TABLE totp_recovery_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    code_hash   TEXT NOT NULL,
    used_at     INTEGER
);
CREATE INDEX totp_recovery_codes_user ON totp_recovery_codes (user_id);

-- ID-8 / ID-9: codes sent by email or SMS to reset a password. Single-use (`used_at`),
-- short-lived (`expires_at`), attempt-limited (`attempts`). A new code for the same account
-- and purpose replaces the unused ones.
CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    purpose     TEXT NOT NULL,      -- password_reset
    channel     TEXT NOT NULL,      -- email | sms
    code_hash   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    used_at     INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id, purpose);

-- ID-8 / ID-9: a person who cannot recover alone asks an administrator to verify them.
CREATE TABLE verification_requests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- What the person said, as typed (never trusted, shown to the administrator).
    login         TEXT,
    phone         TEXT,
    email         TEXT,
    name          TEXT NOT NULL,
    message       TEXT NOT NULL,
    -- The account the details point at, when exactly one does (not told to the requester).
    user_id       INTEGER REFERENCES users (id),
    created_at    INTEGER NOT NULL,
    closed_at     INTEGER,
    -- The administrator's note when closing ("verified by phone, reset sent").
    resolution    TEXT,
    closed_by     INTEGER REFERENCES users (id)
);
CREATE INDEX verification_requests_open ON verification_requests (closed_at);

-- ID-12: the default SMS gateway writes here; the administrator reads it
-- (`postwerk admin notifications list`).
CREATE TABLE sms_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    phone       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- ID-11: every login attempt on every protocol and every security-relevant change. No foreign
-- keys: the log outlives the accounts and addresses it names, so it keeps their names as text.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    -- login | change
    category    TEXT NOT NULL,
    -- manager | webmail | api | imap | pop3 | smtp | cli
    protocol    TEXT NOT NULL,
    -- What happened: for logins the result (success, wrong_password, unknown, disabled,
    -- throttled, totp_required, totp_invalid); for changes the event (password_changed,
    -- totp_enabled, access_granted, …).
    event       TEXT NOT NULL,
    remote_ip   TEXT,
    -- The identifier presented or concerned, as text (survives deletions).
    subject     TEXT NOT NULL,
    -- Who did it, as text ("operator", an account login), for changes.
    actor       TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    -- Whose entry this is, for visibility: the account, the mailbox and its organization.
    user_id     INTEGER,
    address_id  INTEGER,
    org_id      INTEGER
);
CREATE INDEX audit_log_user ON audit_log (user_id, id);
CREATE INDEX audit_log_address ON audit_log (address_id, id);
CREATE INDEX audit_log_org ON audit_log (org_id, id);
CREATE INDEX audit_log_at ON audit_log (at);
