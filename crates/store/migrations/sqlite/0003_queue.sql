-- The outbound queue (issue 3 fills it, issue 6 drains it). Contents live in their own blob
-- folder (queue/), apart from mailbox contents, so neither side's clean-up can remove a file
-- the other still needs.

CREATE TABLE queue_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    blob          TEXT NOT NULL,      -- blob id in the queue folder: SHA-256 hex
    size          INTEGER NOT NULL,
    return_path   TEXT NOT NULL,      -- '' for the null sender
    envid         TEXT,               -- RFC 3461 ENVID
    ret           TEXT,               -- RFC 3461 RET: 'FULL' or 'HDRS'
    received_at   INTEGER NOT NULL,
    submitted_by  INTEGER,            -- addresses.id, kept even if the address goes
    created_at    INTEGER NOT NULL
);
CREATE INDEX queue_messages_blob ON queue_messages (blob);

CREATE TABLE queue_recipients (
    message_id    INTEGER NOT NULL REFERENCES queue_messages (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    address       TEXT NOT NULL,
    notify        TEXT,               -- NULL: not given; '' NEVER; else letters S, F, D
    orcpt         TEXT,
    forwarded_by  TEXT,
    PRIMARY KEY (message_id, position)
);
