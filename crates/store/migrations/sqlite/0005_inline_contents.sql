-- Small message contents live in the database instead of a blob file (see
-- src/sqlite/contents.rs, INLINE_CONTENT_MAX): their bytes are written by the same
-- group-committed transaction as the message rows, so a small delivery costs no file, no
-- file fsync and no folder fsync.
--
-- A side table rather than a column of `contents`: lists, SORT and status read `contents`
-- row by row, and keeping the bytes out of those rows keeps them a few hundred octets.
--
-- A content has a row here (inline) or a blob file named by its hash (every content stored
-- before this migration, and every larger one), never both: a hash is one size, so one side
-- of the threshold. Existing data folders are not rewritten; their contents keep their files.
CREATE TABLE content_bodies (
    content_id  INTEGER PRIMARY KEY REFERENCES contents (id) ON DELETE CASCADE,
    body        BLOB NOT NULL
);
