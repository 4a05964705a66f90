-- Issue 10 (crash safety, zero duplicates): what each mailbox received lately, by the
-- fingerprint of the envelope sender and the message as the client sent it. A client that
-- lost our 250 in a crash sends the same bytes again; the fingerprint recognises the retry
-- and the mailbox keeps one copy. Rows older than the window are pruned as deliveries pass.
CREATE TABLE delivery_fingerprints (
    mailbox      INTEGER NOT NULL REFERENCES addresses (id) ON DELETE CASCADE,
    fingerprint  BLOB NOT NULL,        -- SHA-256
    delivered_at INTEGER NOT NULL,     -- Unix seconds
    PRIMARY KEY (mailbox, fingerprint)
) WITHOUT ROWID;
CREATE INDEX delivery_fingerprints_age ON delivery_fingerprints (delivered_at);
