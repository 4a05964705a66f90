-- Greylisting's memory (RCV-3).
--
-- One row per (client network, sender, recipient) triplet. The key is the SHA-256 hex digest the
-- filter computes, so the table holds no addresses in clear and every key has the same size.
-- `passed_at` set: a retry was accepted, and the triplet passes at once from then on
-- (auto-whitelist). `last_seen` drives expiry; it is refreshed at most once a day, so mail of a
-- known triplet costs a read, not a commit.

CREATE TABLE greylist (
    key         TEXT PRIMARY KEY NOT NULL,
    first_seen  INTEGER NOT NULL,
    passed_at   INTEGER,
    last_seen   INTEGER NOT NULL
) WITHOUT ROWID;
-- Expiry deletes by age.
CREATE INDEX greylist_last_seen ON greylist (last_seen);
