-- Mail: folders, messages and their contents, with IMAP semantics.

-- Counters that must never go back, even when the rows that used them are deleted.
CREATE TABLE counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
-- UIDVALIDITY values are handed out from here. Starting at the creation time keeps them
-- distinct from those of an earlier installation a client may still have cached.
INSERT INTO counters (name, value) VALUES ('uid_validity', CAST(strftime('%s', 'now') AS INTEGER));

CREATE TABLE folders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id      INTEGER NOT NULL REFERENCES addresses (id),
    name            TEXT NOT NULL,
    special_use     TEXT,
    uid_validity    INTEGER NOT NULL,
    uid_next        INTEGER NOT NULL,
    highest_modseq  INTEGER NOT NULL,
    subscribed      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (mailbox_id, name)
);
CREATE UNIQUE INDEX folders_special_use ON folders (mailbox_id, special_use)
    WHERE special_use IS NOT NULL;

-- One row per distinct message content (a blob): the parse-once index and the columns pulled
-- out of it for lists and SORT. Delivering one message to fifty mailboxes stores, parses and
-- indexes it once.
CREATE TABLE contents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    hash             TEXT NOT NULL UNIQUE,   -- blob id: SHA-256 hex
    size             INTEGER NOT NULL,
    subject          TEXT,
    from_addr        TEXT,
    sent_date        INTEGER,
    message_id       TEXT,
    has_attachments  INTEGER NOT NULL,
    idx              BLOB NOT NULL,          -- MessageIndex::to_bytes
    created_at       INTEGER NOT NULL
);

CREATE TABLE messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    folder_id      INTEGER NOT NULL REFERENCES folders (id),
    uid            INTEGER NOT NULL,
    modseq         INTEGER NOT NULL,
    system_flags   INTEGER NOT NULL,
    keywords       TEXT NOT NULL,            -- space-separated IMAP atoms
    internal_date  INTEGER NOT NULL,
    saved_at       INTEGER NOT NULL,
    content_id     INTEGER NOT NULL REFERENCES contents (id),
    UNIQUE (folder_id, uid)
);
CREATE INDEX messages_content ON messages (content_id);

-- QRESYNC (RFC 7162 §3.2.10): which UIDs went away at which MODSEQ.
CREATE TABLE expunged (
    folder_id  INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (folder_id, uid)
);

-- Contents that lost a reference; the writer checks them after its commit and removes those
-- nobody references any more, blob file included (ADDR-8).
CREATE TABLE content_gc (
    content_id  INTEGER PRIMARY KEY
);

-- Substring search (IMAP SEARCH TEXT/BODY) over MessageIndex::search_text, one row per
-- content (rowid = contents.id). Contentless: the text is not stored twice.
CREATE VIRTUAL TABLE content_text USING fts5 (
    text,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram'
);

-- Whatever deletes a message (EXPUNGE, folder or mailbox deletion) queues its content for
-- collection, so no path can forget it.
CREATE TRIGGER messages_deleted AFTER DELETE ON messages BEGIN
    INSERT OR IGNORE INTO content_gc (content_id) VALUES (old.content_id);
END;
