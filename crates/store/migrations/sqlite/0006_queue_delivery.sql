-- Outbound delivery (issue 6): where each recipient of a queued message stands, and which
-- worker holds the message. A lease that is not released (the process died mid-delivery)
-- simply expires, and the message is attempted again rather than forgotten.

ALTER TABLE queue_messages ADD COLUMN leased_until INTEGER NOT NULL DEFAULT 0;

-- 'pending', 'delivered' or 'failed'.
ALTER TABLE queue_recipients ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE queue_recipients ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_recipients ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_recipients ADD COLUMN last_attempt_at INTEGER;
ALTER TABLE queue_recipients ADD COLUMN last_status TEXT;      -- RFC 3463, e.g. '4.4.1'
ALTER TABLE queue_recipients ADD COLUMN diagnostic TEXT;       -- the remote reply, or our reason
ALTER TABLE queue_recipients ADD COLUMN remote_mta TEXT;
ALTER TABLE queue_recipients ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;

CREATE INDEX queue_recipients_due ON queue_recipients (next_attempt_at) WHERE status = 'pending';
