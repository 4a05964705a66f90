//! Message contents on SQLite: one row per distinct content (the blob id, the parse-once
//! index and the columns pulled out of it, the search text), and their collection once no
//! message references them (ADDR-8). The full-text index is derived from these rows after the
//! commit, in a file of its own (see [`super::search`]).
//!
//! The bytes of a content up to [`INLINE_CONTENT_MAX`] octets are stored inline, in
//! `content_bodies` (migration 5), by the transaction that stores its messages; larger ones,
//! and every content stored before migration 5, are blob files named by the hash. A content is
//! one or the other, never both; [`read_content`] returns the bytes either way.

use std::sync::Arc;

use futures::future::BoxFuture;
use postwerk_message::MessageIndex;
use sqlx::{Connection, Executor, Sqlite, SqliteConnection};

use super::now;
use super::writer::Written;
use crate::error::Context;
use crate::{BlobId, BlobStore, StoreError};

/// Contents up to this size are stored inline in the database, larger ones as blob files.
///
/// Why 64 KiB: an inline content is written by the group-committed transaction that already
/// makes the metadata durable, as sequential WAL pages covered by the one commit fsync, where a
/// blob file costs two more fsyncs of its own (the file, then its folder) per message. SQLite
/// keeps a BLOB larger than a page in a chain of overflow pages, which it writes and reads
/// page after page without copying the rest of the row, so the cost of an inline content stays
/// proportional to its size; at 64 KiB that is 16 pages of 4 KiB, still far cheaper than two
/// fsyncs. Beyond that the WAL grows by the full size of each message until the next
/// checkpoint, which copies it a second time into the database file, and the IMAP server may
/// want to stream the body from a file: large contents keep their file. Typical mail (text,
/// HTML, small signatures and images) is below the threshold; attachments are above it.
pub const INLINE_CONTENT_MAX: usize = 64 * 1024;

/// Contents collected per transaction, so a huge deletion does not hold the write lock for
/// long in one go.
const GC_CHUNK: i64 = 512;

/// A message content ready to store: computed in the caller's task, so the writer only runs
/// SQL.
#[derive(Debug)]
pub(super) struct Content {
    /// The hash of the bytes: the name of the blob file when there is one.
    pub(super) blob: BlobId,
    /// The bytes themselves when they are stored inline (at most [`INLINE_CONTENT_MAX`]).
    pub(super) inline: Option<Vec<u8>>,
    size: i64,
    subject: Option<String>,
    from: Option<String>,
    sent_date: Option<i64>,
    message_id: Option<String>,
    has_attachments: bool,
    /// The index without its search text, which has a column of its own: the text is stored
    /// once.
    index: Vec<u8>,
    /// The search text, for inline contents only. A blob-stored content is large, and its text
    /// about as large: written into the row it would double the WAL of every delivery
    /// (issue 3's ingest profile: the writer spent its time writing it). The indexer and
    /// the search take it from the message instead (`search::text_of`).
    search_text: Option<String>,
}

impl Content {
    /// `blob` is the hash of `raw`; the bytes are kept for an inline store when `raw` is small
    /// enough (see [`is_inline`]).
    pub(super) fn new(
        blob: BlobId,
        raw: &[u8],
        index: &MessageIndex,
    ) -> Result<Content, StoreError> {
        let summary = &index.summary;
        Ok(Content {
            blob,
            inline: is_inline(raw.len()).then(|| raw.to_vec()),
            size: i64::try_from(raw.len())
                .map_err(|_| StoreError::Refused("the message is too large".to_owned()))?,
            subject: summary.subject.clone(),
            from: summary.from.first().and_then(|a| a.address()),
            sent_date: summary.date,
            message_id: summary.message_id.clone(),
            has_attachments: index.has_attachments,
            index: index_without_text(index).to_bytes(),
            search_text: is_inline(raw.len()).then(|| index.search_text.clone()),
        })
    }
}

/// Whether a content of `size` octets is stored inline rather than as a blob file.
pub(super) fn is_inline(size: usize) -> bool {
    size <= INLINE_CONTENT_MAX
}

/// `index` with an empty search text, as stored in `contents.idx` (migration 4).
fn index_without_text(index: &MessageIndex) -> MessageIndex {
    MessageIndex {
        size: index.size,
        header_len: index.header_len,
        summary: index.summary.clone(),
        envelope: index.envelope.clone(),
        body: index.body.clone(),
        search_text: String::new(),
        has_attachments: index.has_attachments,
    }
}

/// A content as stored: a new row, or the row of the same bytes stored before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Upserted {
    /// A new row: the full-text indexer has something to do after the commit.
    New(i64),
    /// The content was known already; `has_body` if its bytes are inline.
    Known {
        /// The content id.
        id: i64,
        /// Whether the content has an inline body (otherwise it has a blob file).
        has_body: bool,
    },
}

impl Upserted {
    /// The content id.
    pub(super) fn id(self) -> i64 {
        match self {
            Upserted::New(id) | Upserted::Known { id, .. } => id,
        }
    }
}

/// The row of the content named `blob`, if it is known: its id, and whether its bytes are
/// inline. Runs on the writer's handle ([`super::direct`]), like the other functions here
/// that take a `rusqlite::Connection`.
pub(super) fn known(
    db: &rusqlite::Connection,
    blob: &BlobId,
) -> Result<Option<(i64, bool)>, StoreError> {
    use rusqlite::OptionalExtension as _;
    db.prepare_cached(
        "SELECT c.id, EXISTS (SELECT 1 FROM content_bodies b WHERE b.content_id = c.id) \
         FROM contents c WHERE c.hash = ?1",
    )
    .and_then(|mut select| {
        select
            .query_row([blob.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
    })
    .ctx("looking for a message content")
}

/// The row of `contents` for this content: `known` (from [`known`], under the same write
/// lock), or created now with its search text and, when inline, its bytes. The full-text
/// index is not touched: the indexer picks new rows up after the commit.
pub(super) fn upsert_content(
    db: &rusqlite::Connection,
    content: &Content,
    known: Option<(i64, bool)>,
) -> Result<Upserted, StoreError> {
    const WHAT: &str = "storing a message content";
    if let Some((id, has_body)) = known {
        return Ok(Upserted::Known { id, has_body });
    }
    let id: i64 = db
        .prepare_cached(
            "INSERT INTO contents (hash, size, subject, from_addr, sent_date, message_id, \
             has_attachments, idx, search_text, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        )
        .and_then(|mut insert| {
            insert.query_row(
                rusqlite::params![
                    content.blob.as_str(),
                    content.size,
                    content.subject,
                    content.from,
                    content.sent_date,
                    content.message_id,
                    content.has_attachments,
                    content.index,
                    content.search_text,
                    now(),
                ],
                |row| row.get(0),
            )
        })
        .ctx(WHAT)?;
    if let Some(body) = &content.inline {
        db.prepare_cached(INSERT_BODY)
            .and_then(|mut insert| insert.execute(rusqlite::params![id, body]))
            .ctx(WHAT)?;
    }
    Ok(Upserted::New(id))
}

/// Stores the bytes of an inline content.
const INSERT_BODY: &str = "INSERT INTO content_bodies (content_id, body) VALUES (?1, ?2)";

async fn insert_body(conn: &mut SqliteConnection, id: i64, body: &[u8]) -> Result<(), StoreError> {
    sqlx::query(INSERT_BODY)
        .bind(id)
        .bind(body)
        .execute(&mut *conn)
        .await
        .ctx("storing a message content")?;
    Ok(())
}

/// Make sure the bytes of a known content that has no inline body are there, for a store that
/// brought them inline: a content stored as a file (before migration 5) keeps its file if it
/// is present; if a collection removed it meanwhile, the bytes at hand become its inline body.
/// Runs under the write lock, so a file present now stays.
pub(super) async fn adopt_known(
    conn: &mut SqliteConnection,
    blobs: &Arc<dyn BlobStore>,
    id: i64,
    blob: &BlobId,
    body: &[u8],
) -> Result<(), StoreError> {
    if !blobs.exists(blob).await? {
        insert_body(conn, id, body).await?;
    }
    Ok(())
}

/// The bytes of content `id` (whose hash is `hash`): its inline body, or else its blob file.
pub(super) async fn read_content<'e, E>(
    e: E,
    blobs: &Arc<dyn BlobStore>,
    id: i64,
    hash: &str,
) -> Result<Vec<u8>, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    const WHAT: &str = "reading a message content";
    let body: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT body FROM content_bodies WHERE content_id = ?1")
            .bind(id)
            .fetch_optional(e)
            .await
            .ctx(WHAT)?;
    match body {
        Some(body) => Ok(body),
        None => {
            let blob = BlobId::parse(hash)
                .ok_or_else(|| StoreError::backend(WHAT, format!("bad blob id {hash:?}")))?;
            blobs.read(&blob).await
        }
    }
}

/// Remove a blob written for a store that failed, unless some content uses it.
pub(super) async fn discard_blob_tx(
    conn: &mut SqliteConnection,
    blobs: Arc<dyn BlobStore>,
    blob: BlobId,
) -> Result<Written<()>, StoreError> {
    let used: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM contents WHERE hash = ?1) \
         OR EXISTS (SELECT 1 FROM shared_files WHERE blob = ?1)",
    )
    .bind(blob.as_str())
    .fetch_one(&mut *conn)
    .await
    .ctx("checking a blob")?;
    if !used {
        blobs.remove(&blob).await?;
    }
    Ok(Written::value(()))
}

/// Remove the contents no message references any more: blob files first (under the write
/// lock, so no write can start referencing them), then their rows, then commit. An inline
/// content has no file: its body row goes with its `contents` row, in the same transaction. A crash after
/// the files are gone leaves rows that the next collection finds unreferenced again; a content
/// stored meanwhile rewrites its blob (see `mail::store_tx`).
///
/// Returns the ids of the contents removed, whose rows the full-text indexer may now purge.
pub(super) fn collect_garbage<'c>(
    conn: &'c mut SqliteConnection,
    blobs: &'c Arc<dyn BlobStore>,
) -> BoxFuture<'c, Result<Vec<i64>, StoreError>> {
    Box::pin(async move {
        const WHAT: &str = "collecting unreferenced contents";
        let mut collected = Vec::new();
        loop {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.ctx(WHAT)?;
            let rows: Vec<(i64, String, bool)> = sqlx::query_as(
                "SELECT g.content_id, c.hash, \
                 EXISTS (SELECT 1 FROM content_bodies b WHERE b.content_id = g.content_id) \
                 FROM content_gc g JOIN contents c ON c.id = g.content_id \
                 WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.content_id = g.content_id) \
                 LIMIT ?1",
            )
            .bind(GC_CHUNK)
            .fetch_all(&mut *tx)
            .await
            .ctx(WHAT)?;
            // A file a webmail download link shares (SND-7) stays while the link does.
            let shared: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT s.blob FROM shared_files s JOIN contents c ON c.hash = s.blob \
                 JOIN content_gc g ON g.content_id = c.id",
            )
            .fetch_all(&mut *tx)
            .await
            .ctx(WHAT)?;
            let files = rows
                .iter()
                .filter(|(_, hash, inline)| !inline && !shared.contains(hash))
                .map(|(_, hash, _)| {
                    BlobId::parse(hash)
                        .ok_or_else(|| StoreError::backend(WHAT, format!("bad blob id {hash:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if !files.is_empty() {
                blobs.remove_many(&files).await?;
            }
            for (id, _, _) in &rows {
                for statement in [
                    "DELETE FROM content_bodies WHERE content_id = ?1",
                    "DELETE FROM contents WHERE id = ?1",
                    "DELETE FROM content_gc WHERE content_id = ?1",
                ] {
                    sqlx::query(statement)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .ctx(WHAT)?;
                }
            }
            let last = i64::try_from(rows.len()).unwrap_or(i64::MAX) < GC_CHUNK;
            if last {
                // What is left is still referenced: it is queued again when that changes.
                sqlx::query("DELETE FROM content_gc")
                    .execute(&mut *tx)
                    .await
                    .ctx(WHAT)?;
            }
            tx.commit().await.ctx(WHAT)?;
            collected.extend(rows.iter().map(|(id, _, _)| *id));
            if last {
                return Ok(collected);
            }
        }
    })
}
