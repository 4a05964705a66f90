-- Issue 10 (crash safety, zero duplicates): what the outbound queue accepted lately, by the
-- fingerprint of the envelope sender, the sorted recipients as queued and the message as the
-- client sent it. A client that lost our 250 in a crash (or whose transaction failed on its
-- local half only) sends the same message again; the fingerprint recognises the retry and the
-- remote recipients receive one copy. A row outlives its queue entry (the first copy may be
-- delivered and dequeued before the retry comes), so `queue_id` is no foreign key. Rows older
-- than the window are pruned as enqueues pass.
CREATE TABLE queue_fingerprints (
    fingerprint  BLOB NOT NULL PRIMARY KEY,   -- SHA-256
    queue_id     INTEGER NOT NULL,            -- queue_messages.id of the first copy
    queued_at    INTEGER NOT NULL             -- Unix seconds
) WITHOUT ROWID;
CREATE INDEX queue_fingerprints_age ON queue_fingerprints (queued_at);
