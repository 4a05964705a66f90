-- SND-7: large attachments sent from webmail, kept on the platform behind expiring download
-- links. Only the SHA-256 of a link's token is kept, so a leaked database opens no link. The
-- content is a file of the blob store (the same folder as message contents), named by its hash;
-- identical files share it, and it is removed when the last row that needs it expires.
-- `mailbox` records who shared the file; it is no foreign key on purpose: the recipients hold
-- the link, so deleting the sender's mailbox does not take the file from them before expiry.
CREATE TABLE shared_files (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,  -- hex SHA-256 of the link's token
    mailbox      INTEGER NOT NULL,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,      -- octets
    blob         TEXT NOT NULL,         -- BlobId: hex SHA-256 of the content
    created_at   INTEGER NOT NULL,      -- Unix seconds
    expires_at   INTEGER NOT NULL       -- Unix seconds
);
CREATE INDEX shared_files_expiry ON shared_files (expires_at);
CREATE INDEX shared_files_blob ON shared_files (blob);
