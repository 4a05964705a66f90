-- SND-6: submitted mail the spam filter scored too high waits here for an administrator.
-- `held` is why (the score and its rules); NULL for every message the workers may deliver.
ALTER TABLE queue_messages ADD COLUMN held TEXT;
