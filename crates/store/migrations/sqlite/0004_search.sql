-- Full-text search moves out of the delivery path: the trigram index becomes derived data in
-- its own file (`search.sqlite3`, see src/sqlite/search.rs), kept up to date after the commits
-- by an indexer task, and rebuilt from `contents` when that file is missing.

-- The search text (MessageIndex::search_text) of each content, stored once: contents written
-- from now on keep it here and store `idx` without it. NULL marks a content stored before this
-- migration, whose `idx` still holds the text; those rows are left as they are rather than
-- rewritten, so upgrading a large data folder costs nothing.
ALTER TABLE contents ADD COLUMN search_text TEXT;

-- The trigram rows now live in the search file, which the indexer builds from `contents` on
-- its first start.
DROP TABLE content_text;
