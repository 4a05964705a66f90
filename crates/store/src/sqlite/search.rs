//! The full-text index (IMAP SEARCH TEXT/BODY): derived data, kept off the delivery path.
//!
//! ```text
//!  writer ── COMMIT (new messages) ──► Signal::messages_stored ──► indexer task
//!                                                                  │ read pool: messages with
//!                                                                  │   id > progress whose
//!                                                                  │   (mailbox, content) has
//!                                                                  │   no document yet, their texts
//!  search.sqlite3 (WAL, synchronous=NORMAL) ◄── BEGIN IMMEDIATE ───┘ documents, terms, progress
//!        ▲                                       COMMIT, repeat until caught up
//!        └── ATTACHed as `search` on every read connection
//! ```
//!
//! The index lives in `<data_dir>/search.sqlite3`, written by one connection of its own, so
//! its cost (the terms were the largest part of a delivery) runs on another core than the main
//! writer and never holds the main database's write lock.
//!
//! **One document per mailbox and content.** A document (`docs`) is the text of one content as
//! one mailbox holds it, indexed under terms that name the mailbox ([`search_terms`]), so a
//! search reads only its own mailbox's postings: its cost follows the mailbox, not the server.
//! A content delivered to several mailboxes is indexed once per mailbox; copies and moves
//! inside a mailbox add nothing.
//!
//! **Progress.** `progress.indexed` is the highest message id such that every message up to it
//! has its document (or was deleted); it is committed with the documents it covers, so a crash
//! loses both or neither, and a restart resumes from it. Message ids come from an
//! AUTOINCREMENT column and are given out under the main database's write lock, in commit
//! order (also when the admin CLI writes beside the server), so no message with a smaller id
//! can appear after the indexer passed it. A message row never changes mailbox (a move to
//! another mailbox inserts a new row), so its document stays right for its whole life.
//!
//! Searches stay exact while the indexer lags: [`search_folder`] reads the progress and the
//! documents in one snapshot of the search file, and scans the texts of the folder's messages
//! above the progress itself. Results always go through the live `messages` rows, so
//! documents whose messages are gone never show; the indexer purges the documents of
//! collected contents when it is idle, from the ids the writer's collection hands it. A
//! mailbox that deleted every copy of a content others still hold keeps a dead document until
//! the content goes, which is harmless: it finds no message.
//!
//! Each document has two columns: the text of the message's own header fields, and the text
//! of its body (text parts, nested messages with their headers). IMAP `TEXT` looks in both,
//! `BODY` in the body only (RFC 9051 §6.4.4). The stored search text is one string, header
//! first, with a mark between the two (`postwerk_message::split_search_text`); texts stored
//! before the mark existed are cut where the text of the message's header alone ends
//! ([`split_text`]), which reads the message.
//!
//! The file is rebuilt from the database whenever it is missing, unreadable, of another schema
//! version (version 2 indexed each content once for all mailboxes, version 1 had one column;
//! such a file is indexed again from nothing, and searched by scanning meanwhile), or ahead of
//! the main database (restored from an older backup).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use postwerk_message::{MessageIndex, header_end, split_search_text};
use postwerk_model::FolderId;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{BUSY_TIMEOUT, contents, indexer_priority, int, mail, search_terms};
use crate::error::Context;
use crate::{BlobStore, StoreError};

/// The search file inside the data folder: derived data, which may be deleted at any time the
/// store is closed (it is rebuilt at the next start).
pub const SEARCH_DATABASE_FILE: &str = "search.sqlite3";

/// Version of the search file's schema (`PRAGMA user_version`); a file of another version is
/// rebuilt.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "\
CREATE TABLE progress (
    id       INTEGER PRIMARY KEY CHECK (id = 0),
    indexed  INTEGER NOT NULL  -- every message with an id up to this one has its document
);
INSERT INTO progress (id, indexed) VALUES (0, 0);
-- One document per content as a mailbox holds it; its id is its rowid in content_text.
CREATE TABLE docs (
    id          INTEGER PRIMARY KEY,
    mailbox_id  INTEGER NOT NULL,
    content_id  INTEGER NOT NULL,
    UNIQUE (content_id, mailbox_id)
);
-- Substring search: `header` holds the terms of the text of the message's own header fields,
-- `body` those of the rest, written by search_terms (trigrams that name the mailbox), which
-- the ascii tokenizer takes as they are. Contentless: the text is in the main database.
CREATE VIRTUAL TABLE content_text USING fts5 (
    header,
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'ascii'
);
PRAGMA user_version = 3;
";

/// Most new documents made in one transaction of the search file.
const BATCH_ROWS: usize = 256;

/// Most search text (bytes) indexed in one transaction: one text may be 2 MiB.
const BATCH_BYTES: usize = 8 << 20;

/// Collected contents purged from the index per transaction.
const PURGE_CHUNK: usize = 512;

/// How often an idle indexer looks for messages written by another process (the admin CLI),
/// which cannot wake it.
const IDLE_TICK: Duration = Duration::from_secs(60);

/// How long a woken indexer waits for more commits before it reads: indexing each small
/// commit on its own would spend more on round trips than on the rows (searches do not wait
/// for the index, so this delay costs nothing but lag).
const COALESCE: Duration = Duration::from_millis(10);

/// Longest pause after a failure before the indexer tries again.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Up to this many messages above the progress, a search finds the folder's unindexed ones
/// by message id (nothing to read when the indexer has caught up); beyond, through the
/// folder's own rows (a rebuild, where most of the server is above the progress).
const LAG_BY_ID: i64 = 4096;

/// What the main writer tells the indexer; shared by both.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    wake: Notify,
    /// Ids of contents collected since the indexer last purged.
    collected: Mutex<Vec<i64>>,
    stopping: AtomicBool,
}

impl Signal {
    /// A commit stored new messages.
    pub(crate) fn messages_stored(&self) {
        self.wake.notify_one();
    }

    /// A collection removed these contents (after its commit).
    pub(crate) fn contents_collected(&self, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        self.collected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(ids);
        self.wake.notify_one();
    }

    fn take_collected(&self) -> Vec<i64> {
        std::mem::take(
            &mut *self
                .collected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// The path of the search file of `data_dir`.
pub(super) fn search_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SEARCH_DATABASE_FILE)
}

/// Open the search file for writing, creating or rebuilding it when missing, unreadable or of
/// another schema version. Must run before the read connections attach it.
pub(super) async fn open(data_dir: &Path) -> Result<SqliteConnection, StoreError> {
    let file = search_path(data_dir);
    match open_file(&file).await {
        Ok(conn) => Ok(conn),
        Err(error) => {
            // Derived data: start again from nothing rather than refuse to start.
            tracing::warn!(%error, file = %file.display(), "rebuilding the search index");
            for suffix in ["", "-wal", "-shm"] {
                let mut name = file.clone().into_os_string();
                name.push(suffix);
                match std::fs::remove_file(&name) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io(Path::new(&name), e)),
                }
            }
            open_file(&file).await
        }
    }
}

async fn open_file(file: &Path) -> Result<SqliteConnection, StoreError> {
    const WHAT: &str = "opening the search index";
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .busy_timeout(BUSY_TIMEOUT)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Derived data: a commit lost to a power cut is indexed again from `contents`, so the
        // fsync per commit that FULL costs buys nothing here.
        .synchronous(SqliteSynchronous::Normal)
        .thread_name(|_| indexer_priority::INDEXER_THREAD.to_owned())
        .connect()
        .await
        .ctx(WHAT)?;
    indexer_priority::lower();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.ctx(WHAT)?;
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *tx)
        .await
        .ctx(WHAT)?;
    match version {
        0 => {
            sqlx::raw_sql(SCHEMA).execute(&mut *tx).await.ctx(WHAT)?;
        }
        SCHEMA_VERSION => {}
        other => {
            return Err(StoreError::backend(
                WHAT,
                format!("the search file has schema version {other}, not {SCHEMA_VERSION}"),
            ));
        }
    }
    tx.commit().await.ctx(WHAT)?;
    Ok(conn)
}

/// The running indexer, owned by the store. Dropping it stops the task too.
#[derive(Debug)]
pub(crate) struct Indexer {
    signal: Arc<Signal>,
    progress: watch::Receiver<i64>,
    pool: SqlitePool,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Indexer {
    /// Start the indexer on `conn` (from [`open`]), reading contents through `pool`.
    pub(super) fn start(
        conn: SqliteConnection,
        pool: SqlitePool,
        blobs: Arc<dyn BlobStore>,
        signal: Arc<Signal>,
    ) -> Indexer {
        let (progress_tx, progress) = watch::channel(0);
        let task = tokio::spawn(run(conn, pool.clone(), blobs, signal.clone(), progress_tx));
        Indexer {
            signal,
            progress,
            pool,
            task: Mutex::new(Some(task)),
        }
    }

    /// Wait until every message committed before the call is indexed.
    pub(super) async fn wait_indexed(&self) -> Result<(), StoreError> {
        let target = message_sequence(&self.pool).await?;
        self.signal.messages_stored();
        let mut progress = self.progress.clone();
        progress
            .wait_for(|indexed| *indexed >= target)
            .await
            .map(|_| ())
            .map_err(|_| StoreError::backend("waiting for the search index", "it has stopped"))
    }

    /// Stop the task after its current transaction. What is not indexed yet is indexed at the
    /// next start; searches meanwhile scan it.
    pub(super) async fn close(&self) {
        self.signal.stop();
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "the search indexer failed");
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.signal.stop();
    }
}

/// The value of [`message_sequence`], as a literal for `concat!` (statements are static text).
macro_rules! message_sequence_sql {
    () => {
        "SELECT COALESCE((SELECT seq FROM main.sqlite_sequence WHERE name = 'messages'), 0)"
    };
}

/// The highest message id ever given out (0 before the first): an indexer whose progress has
/// reached it has indexed everything committed so far.
async fn message_sequence<'e, E>(e: E) -> Result<i64, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query_scalar(message_sequence_sql!())
        .fetch_one(e)
        .await
        .ctx("reading the message sequence")
}

/// What one round of the indexer found.
enum Round {
    /// More messages are waiting.
    More,
    /// Everything committed is indexed.
    CaughtUp,
}

async fn run(
    mut conn: SqliteConnection,
    pool: SqlitePool,
    blobs: Arc<dyn BlobStore>,
    signal: Arc<Signal>,
    progress: watch::Sender<i64>,
) {
    let mut backoff = Duration::from_secs(1);
    let mut checked = false;
    while !signal.stopping() {
        let outcome = async {
            if !checked {
                reset_if_ahead(&mut conn, &pool).await?;
                checked = true;
            }
            let round = index_batch(&mut conn, &pool, &blobs, &progress).await?;
            if matches!(round, Round::CaughtUp) {
                purge(&mut conn, &signal).await?;
            }
            Ok::<_, StoreError>(round)
        }
        .await;
        match outcome {
            Ok(Round::More) => {}
            Ok(Round::CaughtUp) => {
                backoff = Duration::from_secs(1);
                tokio::select! {
                    () = signal.wake.notified() => {}
                    () = tokio::time::sleep(IDLE_TICK) => {}
                }
                // Let the commits of the next few milliseconds join this round: one
                // transaction per commit would cost more than the rows themselves.
                tokio::time::sleep(COALESCE).await;
            }
            Err(error) => {
                tracing::error!(%error, "indexing messages for search");
                // Commits keep waking the indexer; only a stop cuts the pause short, so a
                // broken search file costs one attempt per pause, not one per delivery.
                let until = tokio::time::Instant::now() + backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                while !signal.stopping() {
                    tokio::select! {
                        () = signal.wake.notified() => {}
                        () = tokio::time::sleep_until(until) => break,
                    }
                }
            }
        }
    }
    if let Err(error) = conn.close().await {
        tracing::warn!(%error, "closing the search index");
    }
}

/// Start from nothing if the index is ahead of the main database (restored from a backup, or
/// a search file from another data folder): its documents would name other contents.
async fn reset_if_ahead(conn: &mut SqliteConnection, pool: &SqlitePool) -> Result<(), StoreError> {
    const WHAT: &str = "checking the search index";
    let sequence = message_sequence(pool).await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.ctx(WHAT)?;
    let indexed: i64 = sqlx::query_scalar("SELECT indexed FROM progress")
        .fetch_one(&mut *tx)
        .await
        .ctx(WHAT)?;
    if indexed > sequence {
        tracing::warn!(
            indexed,
            sequence,
            "the search index is ahead of the database; rebuilding it"
        );
        for statement in [
            "INSERT INTO content_text (content_text) VALUES ('delete-all')",
            "DELETE FROM docs",
            "UPDATE progress SET indexed = 0",
        ] {
            sqlx::query(statement).execute(&mut *tx).await.ctx(WHAT)?;
        }
    }
    tx.commit().await.ctx(WHAT)
}

/// Make the documents of the next batch of messages above the progress.
async fn index_batch(
    conn: &mut SqliteConnection,
    pool: &SqlitePool,
    blobs: &Arc<dyn BlobStore>,
    progress: &watch::Sender<i64>,
) -> Result<Round, StoreError> {
    index_within(conn, pool, blobs, progress, BATCH_BYTES).await
}

/// [`index_batch`], reading at most about `bound` bytes of text.
async fn index_within(
    conn: &mut SqliteConnection,
    pool: &SqlitePool,
    blobs: &Arc<dyn BlobStore>,
    progress: &watch::Sender<i64>,
    bound: usize,
) -> Result<Round, StoreError> {
    const WHAT: &str = "indexing messages for search";
    let start: i64 = sqlx::query_scalar("SELECT indexed FROM progress")
        .fetch_one(&mut *conn)
        .await
        .ctx(WHAT)?;
    progress.send_replace(start);
    // One snapshot of the main database: the sequence, the messages below it and their
    // contents agree.
    let mut read = pool.begin().await.ctx(WHAT)?;
    let sequence = message_sequence(&mut *read).await?;
    if sequence <= start {
        return Ok(Round::CaughtUp);
    }
    // Messages whose (mailbox, content) has no document yet: new contents, and known contents
    // new to a mailbox. Copies inside a mailbox are skipped here.
    let messages: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT m.id, f.mailbox_id, m.content_id FROM messages m \
         JOIN folders f ON f.id = m.folder_id \
         WHERE m.id > ?1 AND m.id <= ?2 AND NOT EXISTS (SELECT 1 FROM search.docs d \
         WHERE d.content_id = m.content_id AND d.mailbox_id = f.mailbox_id) \
         ORDER BY m.id LIMIT ?3",
    )
    .bind(start)
    .bind(sequence)
    .bind(i64::try_from(BATCH_ROWS).unwrap_or(i64::MAX))
    .fetch_all(&mut *read)
    .await
    .ctx(WHAT)?;
    // Every message up to `sequence` is covered unless the batch is full.
    let mut reached = match messages.last() {
        Some(last) if messages.len() == BATCH_ROWS => last.0,
        _ => sequence,
    };
    // Their contents' texts, in one statement, in the order the messages need them; the
    // bound stops the stream (one text may be 2 MiB), and the messages whose text was not read
    // wait for the next round. The first message's text is always read: each round advances.
    let mut wanted = Vec::with_capacity(messages.len());
    let mut seen = HashSet::with_capacity(messages.len());
    for &(_, _, content) in &messages {
        if seen.insert(content) {
            wanted.push(content);
        }
    }
    let mut rows = Vec::new();
    let mut stored_bytes = 0;
    let mut cut = false;
    {
        let mut stream = sqlx::query_as::<_, TextRow>(
            "SELECT c.id, c.search_text, CASE WHEN c.search_text IS NULL THEN c.idx END, c.hash \
             FROM json_each(?1) j JOIN contents c ON c.id = j.value ORDER BY j.key",
        )
        .bind(json(&wanted)?)
        .fetch(&mut *read);
        while let Some(row) = stream.try_next().await.ctx(WHAT)? {
            stored_bytes +=
                row.1.as_ref().map_or(0, String::len) + row.2.as_ref().map_or(0, Vec::len);
            rows.push(row);
            if stored_bytes >= bound {
                cut = true;
                break;
            }
        }
    }
    let mut texts: HashMap<i64, SplitText> = HashMap::with_capacity(wanted.len());
    let mut text_bytes = 0;
    for row in rows {
        if text_bytes >= bound {
            cut = true;
            break;
        }
        let id = row.0;
        // Blob-stored contents bring their text only now (parsed from the file).
        let text = split_text_of(row, pool, blobs).await;
        text_bytes += text.header.len() + text.body.len();
        texts.insert(id, text);
    }
    if !cut {
        // A content the snapshot lacks (none should) is indexed empty rather than stall.
        for id in wanted {
            texts.entry(id).or_default();
        }
    }
    read.rollback().await.ctx(WHAT)?;
    // The batch ends before the first message whose text is missing.
    let covered = messages
        .iter()
        .position(|m| !texts.contains_key(&m.2))
        .unwrap_or(messages.len());
    if let Some(first_missing) = messages.get(covered) {
        reached = first_missing.0 - 1;
    }
    let pairs: Vec<[i64; 2]> = messages[..covered].iter().map(|m| [m.1, m.2]).collect();
    let pairs = json(&pairs)?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.ctx(WHAT)?;
    // Another process sharing the data folder may have made some of these meanwhile, and a
    // copy in the batch names a pair twice: only the documents made here get terms.
    let indexed: i64 = sqlx::query_scalar("SELECT indexed FROM progress")
        .fetch_one(&mut *tx)
        .await
        .ctx(WHAT)?;
    let made: Vec<(i64, i64, i64)> = sqlx::query_as(
        "INSERT INTO docs (mailbox_id, content_id) \
         SELECT value ->> 0, value ->> 1 FROM json_each(?1) WHERE true \
         ON CONFLICT DO NOTHING RETURNING id, mailbox_id, content_id",
    )
    .bind(pairs)
    .fetch_all(&mut *tx)
    .await
    .ctx(WHAT)?;
    for &(doc, mailbox, content) in &made {
        let Some(text) = texts.get(&content) else {
            continue;
        };
        sqlx::query("INSERT INTO content_text (rowid, header, body) VALUES (?1, ?2, ?3)")
            .bind(doc)
            .bind(search_terms::terms(mailbox, &text.header))
            .bind(search_terms::terms(mailbox, &text.body))
            .execute(&mut *tx)
            .await
            .ctx(WHAT)?;
    }
    let now = indexed.max(reached);
    sqlx::query("UPDATE progress SET indexed = ?1")
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx(WHAT)?;
    tx.commit().await.ctx(WHAT)?;
    progress.send_replace(now);
    tracing::debug!(documents = made.len(), indexed = now, "indexed for search");
    Ok(if reached < sequence {
        Round::More
    } else {
        Round::CaughtUp
    })
}

/// `items` as JSON, for `json_each`: one statement for a batch instead of one per item.
fn json(items: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|e| StoreError::backend("indexing messages for search", e))
}

/// Remove the documents of the contents collected since the last purge.
///
/// Runs between batches, never between reading a batch and indexing it: a content collected
/// after a batch read it is indexed first and purged here after. A content collected before
/// any batch read it has no document, and gets none (its messages are gone).
async fn purge(conn: &mut SqliteConnection, signal: &Signal) -> Result<(), StoreError> {
    const WHAT: &str = "purging collected contents from the search index";
    let collected = signal.take_collected();
    for (n, chunk) in collected.chunks(PURGE_CHUNK).enumerate() {
        if let Err(error) = purge_chunk(conn, chunk).await {
            // Try these again next time.
            signal.contents_collected(collected[n * PURGE_CHUNK..].to_vec());
            return Err(error).ctx(WHAT);
        }
    }
    Ok(())
}

async fn purge_chunk(conn: &mut SqliteConnection, contents: &[i64]) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    for content in contents {
        let docs: Vec<i64> =
            sqlx::query_scalar("DELETE FROM docs WHERE content_id = ?1 RETURNING id")
                .bind(content)
                .fetch_all(&mut *tx)
                .await?;
        for doc in docs {
            sqlx::query("DELETE FROM content_text WHERE rowid = ?1")
                .bind(doc)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

/// A content's id, its search text column (NULL for blob-stored contents, and for those stored
/// before migration 4), its index when that column is NULL, its blob id.
type TextRow = (i64, Option<String>, Option<Vec<u8>>, String);

/// A message's UID, then its content as in [`TextRow`].
type UidTextRow = (i64, i64, Option<String>, Option<Vec<u8>>, String);

/// Where in a message a search looks (RFC 9051 §6.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// IMAP `TEXT`: the header or the body.
    Anywhere,
    /// IMAP `BODY`: the body only.
    Body,
}

/// A content's search text cut in two: what its own header fields gave, and the rest.
#[derive(Debug, Default, PartialEq, Eq)]
struct SplitText {
    header: String,
    body: String,
}

impl SplitText {
    fn contains(&self, scope: Scope, needle_folded: &str) -> bool {
        let found = |text: &str| search_terms::fold(text).contains(needle_folded);
        match scope {
            Scope::Anywhere => found(&self.header) || found(&self.body),
            Scope::Body => found(&self.body),
        }
    }
}

/// Cut `text`, the search text of the message `raw`, where the text of its header ends.
///
/// The parser writes the header fields' text first, then the bodies'; parsing the header
/// alone gives exactly that first piece, so no stored index has to change. Should the two
/// ever disagree, the whole text counts as body: `BODY` may then match a header word, but
/// never misses a body word.
fn split_text(text: String, raw: &[u8]) -> SplitText {
    let header_bytes = raw.get(..header_end(raw)).unwrap_or(raw);
    let header = MessageIndex::parse(header_bytes).search_text;
    if let Some(body) = text.strip_prefix(header.as_str()) {
        let body = body.to_owned();
        SplitText { header, body }
    } else if header.starts_with(text.as_str()) {
        // The text was cut at SEARCH_TEXT_LIMIT inside the header.
        SplitText {
            header: text,
            body: String::new(),
        }
    } else {
        SplitText {
            header: String::new(),
            body: text,
        }
    }
}

/// The search text a content row holds, if it holds one: its `search_text` column (taken, not
/// copied: it may be megabytes), or for contents stored before migration 4 the text inside
/// its index. Contents kept as blob files
/// hold none (their text would double what every delivery writes to the WAL); it is taken
/// from the message itself.
fn stored_text(text: Option<String>, index: Option<&[u8]>) -> Option<String> {
    match text {
        Some(text) => Some(text),
        None => index
            .and_then(|b| MessageIndex::from_bytes(b).ok())
            .map(|index| index.search_text)
            .filter(|text| !text.is_empty()),
    }
}

/// The search text of a content row, whole: stored, or parsed from the message (its inline
/// body or its blob file).
async fn text_of(row: TextRow, pool: &SqlitePool, blobs: &Arc<dyn BlobStore>) -> String {
    let (id, text, index, hash) = row;
    if let Some(text) = stored_text(text, index.as_deref()) {
        return text;
    }
    match read_raw(pool, blobs, id, &hash).await {
        Some(raw) => MessageIndex::parse(&raw).search_text,
        None => String::new(),
    }
}

/// The search text of a content row cut into header and body: at the mark the parser writes
/// between them, or for texts stored before the mark existed by [`split_text`], which takes
/// the message's header bytes.
async fn split_text_of(row: TextRow, pool: &SqlitePool, blobs: &Arc<dyn BlobStore>) -> SplitText {
    let (id, text, index, hash) = row;
    let stored = stored_text(text, index.as_deref());
    if let Some((header, body)) = stored.as_deref().and_then(split_search_text) {
        return SplitText {
            header: header.to_owned(),
            body: body.to_owned(),
        };
    }
    let Some(raw) = read_raw(pool, blobs, id, &hash).await else {
        // Unreadable message: its text (if any) counts as body, so nothing is missed.
        return SplitText {
            header: String::new(),
            body: stored.unwrap_or_default(),
        };
    };
    let text = stored.unwrap_or_else(|| MessageIndex::parse(&raw).search_text);
    if let Some((header, body)) = split_search_text(&text) {
        return SplitText {
            header: header.to_owned(),
            body: body.to_owned(),
        };
    }
    split_text(text, &raw)
}

/// The bytes of content `id`, or `None` (logged) when they cannot be read.
async fn read_raw(
    pool: &SqlitePool,
    blobs: &Arc<dyn BlobStore>,
    id: i64,
    hash: &str,
) -> Option<Vec<u8>> {
    match contents::read_content(pool, blobs, id, hash).await {
        Ok(raw) => Some(raw),
        Err(error) => {
            tracing::error!(%error, id, "a content whose message is unreadable cannot be searched");
            None
        }
    }
}

/// The UIDs of the messages of `folder` whose text in `scope` contains `needle`,
/// case-insensitively.
///
/// Exact whatever the indexer's lag: messages up to the progress are matched in the index,
/// those above it by scanning their text, all in one read transaction so the progress and the
/// documents it covers agree.
pub(super) async fn search_folder(
    pool: &SqlitePool,
    blobs: &Arc<dyn BlobStore>,
    folder: FolderId,
    scope: Scope,
    needle: &str,
) -> Result<Vec<u32>, StoreError> {
    search_with(pool, blobs, folder, scope, needle, LAG_BY_ID).await
}

/// The folder's messages above a message id, with their texts as in [`UidTextRow`]; the
/// argument is how the folder is compared, which picks the index SQLite walks.
macro_rules! unindexed_sql {
    ($folder:literal) => {
        concat!(
            "SELECT m.uid, c.id, c.search_text, CASE WHEN c.search_text IS NULL THEN c.idx END, \
             c.hash FROM messages m JOIN contents c ON c.id = m.content_id WHERE ",
            $folder,
            " = ?1 AND m.id > ?2"
        )
    };
}

/// [`search_folder`], finding unindexed messages by id up to a lag of `lag_by_id`.
async fn search_with(
    pool: &SqlitePool,
    blobs: &Arc<dyn BlobStore>,
    folder: FolderId,
    scope: Scope,
    needle: &str,
    lag_by_id: i64,
) -> Result<Vec<u32>, StoreError> {
    const WHAT: &str = "searching messages";
    let mut tx = pool.begin().await.ctx(WHAT)?;
    let facts: Option<(i64, i64, i64)> = sqlx::query_as(concat!(
        "SELECT f.mailbox_id, (SELECT indexed FROM search.progress), (",
        message_sequence_sql!(),
        ") FROM folders f WHERE f.id = ?1"
    ))
    .bind(folder.0)
    .fetch_optional(&mut *tx)
    .await
    .ctx(WHAT)?;
    let (mailbox, indexed, sequence) = facts.ok_or_else(|| mail::no_folder(folder))?;
    let mut found = Vec::new();
    // Messages above this id are scanned.
    let scan_above = if let Some(phrase) = search_terms::phrase(mailbox, needle) {
        let query = match scope {
            Scope::Anywhere => phrase,
            // A column filter keeps `BODY` out of the header column.
            Scope::Body => format!("body : {phrase}"),
        };
        // From the mailbox's postings to its documents' messages in the folder; CROSS JOIN
        // keeps that order (the other way round reads the whole folder).
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT m.uid FROM search.content_text t \
             CROSS JOIN search.docs d ON d.id = t.rowid \
             CROSS JOIN messages m ON m.content_id = d.content_id \
             WHERE t.content_text MATCH ?2 AND m.folder_id = ?1",
        )
        .bind(folder.0)
        .bind(query)
        .fetch_all(&mut *tx)
        .await
        .ctx(WHAT)?;
        for uid in uids {
            found.push(int(uid, WHAT)?);
        }
        indexed
    } else {
        // Too short for trigrams: scan every text of the folder.
        0
    };
    let rows: Vec<UidTextRow> = if scan_above >= sequence {
        Vec::new()
    } else {
        sqlx::query_as(if sequence - scan_above <= lag_by_id {
            // `+` keeps SQLite on the message ids instead of the folder's index.
            unindexed_sql!("+m.folder_id")
        } else {
            unindexed_sql!("m.folder_id")
        })
        .bind(folder.0)
        .bind(scan_above)
        .fetch_all(&mut *tx)
        .await
        .ctx(WHAT)?
    };
    tx.rollback().await.ctx(WHAT)?;
    let needle = search_terms::fold(needle);
    for (uid, id, text, index, hash) in rows {
        let row = (id, text, index, hash);
        let text = match scope {
            // TEXT needs no cut: the whole text is header or body.
            Scope::Anywhere => SplitText {
                header: String::new(),
                body: text_of(row, pool, blobs).await,
            },
            Scope::Body => split_text_of(row, pool, blobs).await,
        };
        if text.contains(scope, &needle) {
            found.push(int(uid, WHAT)?);
        }
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use postwerk_model::AddressId;
    use sqlx::Executor;

    use super::super::fixture::mailbox_in;
    use super::*;
    use crate::sqlite::{DATABASE_FILE, open_sqlite};
    use crate::{DeliveryTarget, FlagOp, Flags, FsBlobStore, Stores};
    use crate::{SystemFlags, UidSet};

    /// Generous: the machine running the tests is shared.
    const DEADLINE: Duration = Duration::from_secs(60);

    /// A store in `dir` with one mailbox; returns its INBOX.
    async fn store_with_inbox(dir: &Path) -> (Stores, AddressId, FolderId) {
        let stores = open_sqlite(dir).await.expect("open");
        let toto = super::super::fixture::mailbox_toto(&stores, 10).await;
        let inbox = inbox_of(&stores, toto.id).await;
        (stores, toto.id, inbox)
    }

    /// Wait for the indexer, failing the test past the deadline instead of hanging.
    async fn indexed(stores: &Stores) {
        tokio::time::timeout(DEADLINE, stores.wait_indexed())
            .await
            .expect("the indexer caught up before the deadline")
            .expect("the indexer runs");
    }

    fn message(subject: &str, body: &str) -> (Vec<u8>, MessageIndex) {
        let raw = format!("Subject: {subject}\r\n\r\n{body}\r\n").into_bytes();
        let index = MessageIndex::parse(&raw);
        (raw, index)
    }

    async fn deliver(stores: &Stores, mailbox: AddressId, subject: &str, body: &str) {
        deliver_to(stores, &[mailbox], subject, body).await;
    }

    /// One delivery to the INBOXes of `mailboxes`.
    async fn deliver_to(stores: &Stores, mailboxes: &[AddressId], subject: &str, body: &str) {
        let (raw, index) = message(subject, body);
        let targets: Vec<DeliveryTarget> = mailboxes
            .iter()
            .map(|&m| DeliveryTarget::inbox(m))
            .collect();
        stores
            .mail
            .deliver(&raw, &index, &targets, &Flags::none(), 0)
            .await
            .expect("deliver");
    }

    fn remove_search_file(dir: &Path) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = search_path(dir).into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(&name);
        }
    }

    /// The read connections the store would open on `dir`.
    async fn main_pool(dir: &Path) -> SqlitePool {
        let options = SqliteConnectOptions::new().filename(dir.join(DATABASE_FILE));
        crate::sqlite::read_pool(dir, options).await.expect("pool")
    }

    /// Documents of `mailbox` in the index matching `needle`.
    async fn matches(conn: &mut SqliteConnection, mailbox: AddressId, needle: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM content_text WHERE content_text MATCH ?1")
            .bind(search_terms::phrase(mailbox.0, needle).expect("a needle of 3 characters"))
            .fetch_one(&mut *conn)
            .await
            .expect("match")
    }

    /// A closed store's search file, removed and opened again with no indexer running, so a
    /// test drives indexing by hand; with the read connections and blobs a search needs.
    struct HandDriven {
        conn: SqliteConnection,
        pool: SqlitePool,
        blobs: Arc<dyn BlobStore>,
    }

    impl HandDriven {
        async fn open(dir: &Path) -> HandDriven {
            remove_search_file(dir);
            HandDriven {
                conn: open(dir).await.expect("search file"),
                pool: main_pool(dir).await,
                blobs: Arc::new(FsBlobStore::open(&dir.join(crate::BLOB_FOLDER)).expect("blobs")),
            }
        }

        /// Search, checking that both ways of finding unindexed messages agree.
        async fn search(&self, folder: FolderId, scope: Scope, needle: &str) -> Vec<u32> {
            let by_id = search_folder(&self.pool, &self.blobs, folder, scope, needle)
                .await
                .expect("search");
            let by_folder = search_with(&self.pool, &self.blobs, folder, scope, needle, 0)
                .await
                .expect("search");
            assert_eq!(by_id, by_folder, "{needle}");
            by_id
        }

        /// One round of the indexer.
        async fn index(&mut self) {
            self.index_within(BATCH_BYTES).await;
        }

        /// One round of the indexer reading about `bound` bytes of text; the progress after.
        async fn index_within(&mut self, bound: usize) -> (Round, i64) {
            let (progress, _) = watch::channel(0);
            let round = index_within(&mut self.conn, &self.pool, &self.blobs, &progress, bound)
                .await
                .expect("index");
            let reached = *progress.borrow();
            (round, reached)
        }

        async fn close(self) {
            self.conn.close().await.expect("close");
            self.pool.close().await;
        }
    }

    /// The unindexed tail is scanned: searches agree before and after the index has the rows,
    /// whatever the progress.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn searches_agree_before_and_after_indexing() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (stores, toto, inbox) = store_with_inbox(dir.path()).await;
        for (subject, body) in [("a", "Lemon tart."), ("b", "Lemon curd."), ("c", "Pear.")] {
            deliver(&stores, toto, subject, body).await;
        }
        stores.close().await;
        // No indexer runs from here on: this test drives it by hand.
        remove_search_file(dir.path());
        let mut conn = open(dir.path()).await.expect("search file");
        let pool = main_pool(dir.path()).await;
        let blobs: Arc<dyn BlobStore> =
            Arc::new(FsBlobStore::open(&dir.path().join(crate::BLOB_FOLDER)).expect("blobs"));
        let search = |needle: &'static str| {
            let (pool, blobs) = (pool.clone(), blobs.clone());
            async move {
                search_folder(&pool, &blobs, inbox, Scope::Anywhere, needle)
                    .await
                    .expect("search")
            }
        };
        assert_eq!(
            matches(&mut conn, toto, "lemon").await,
            0,
            "nothing indexed yet"
        );
        assert_eq!(search("LEMON").await, vec![1, 2]);
        assert_eq!(search("pear").await, vec![3]);
        assert_eq!(search("on").await, vec![1, 2]);
        let (progress, _) = watch::channel(0);
        assert!(matches!(
            index_batch(&mut conn, &pool, &blobs, &progress)
                .await
                .expect("index"),
            Round::CaughtUp
        ));
        assert_eq!(*progress.borrow(), 3);
        assert_eq!(matches(&mut conn, toto, "lemon").await, 2);
        assert_eq!(search("LEMON").await, vec![1, 2]);
        assert_eq!(search("pear").await, vec![3]);
        assert!(search("plum").await.is_empty());
        // Removing a row that is not there (a content collected before it was indexed) is
        // harmless.
        conn.execute("DELETE FROM content_text WHERE rowid = 4242")
            .await
            .expect("delete a missing row");
        assert_eq!(matches(&mut conn, toto, "lemon").await, 2);
        conn.close().await.expect("close");
        pool.close().await;
    }

    /// BODY looks past the message's own header fields, TEXT does not (RFC 9051 §6.4.4),
    /// before the indexer has run (the scan) and after (the index's two columns).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn body_searches_skip_the_header_indexed_or_not() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (stores, toto, inbox) = store_with_inbox(dir.path()).await;
        deliver(&stores, toto, "Zanzibar trip", "Lemon tart.").await;
        deliver(&stores, toto, "Holiday", "Back from zanzibar.").await;
        stores.close().await;
        let mut hand = HandDriven::open(dir.path()).await;
        for round in ["before indexing", "after indexing"] {
            let search = |scope, needle| hand.search(inbox, scope, needle);
            assert_eq!(
                search(Scope::Anywhere, "ZANZIBAR").await,
                vec![1, 2],
                "{round}"
            );
            assert_eq!(search(Scope::Body, "ZANZIBAR").await, vec![2], "{round}");
            assert!(search(Scope::Body, "trip").await.is_empty(), "{round}");
            assert!(search(Scope::Body, "Subject").await.is_empty(), "{round}");
            assert_eq!(
                search(Scope::Anywhere, "subject: hol").await,
                vec![2],
                "{round}"
            );
            assert_eq!(search(Scope::Body, "lemon").await, vec![1], "{round}");
            assert!(search(Scope::Body, "ip").await.is_empty(), "{round}");
            hand.index().await;
        }
        hand.close().await;
    }

    /// A content kept as a blob file stores no search text (it would double what its delivery
    /// writes to the WAL): the scan and the indexer take the text from the file, header and
    /// body apart, like that of an inline content.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blob_contents_are_searched_from_their_file() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (stores, toto, inbox) = store_with_inbox(dir.path()).await;
        let filler = "Filler words for a long body.\r\n";
        let long = filler.repeat(crate::INLINE_CONTENT_MAX / filler.len() + 1)
            + "Greetings from Zanzibar.";
        deliver(&stores, toto, "Quokka report", &long).await;
        deliver(&stores, toto, "Holiday", "A short zanzibar note.").await;
        stores.close().await;
        let mut hand = HandDriven::open(dir.path()).await;
        let without_text: Vec<i64> =
            sqlx::query_scalar("SELECT size FROM contents WHERE search_text IS NULL")
                .fetch_all(&hand.pool)
                .await
                .expect("contents");
        assert_eq!(without_text.len(), 1, "only the blob content has no text");
        assert!(without_text[0] > i64::try_from(crate::INLINE_CONTENT_MAX).unwrap());
        for round in ["before indexing", "after indexing"] {
            let search = |scope, needle| hand.search(inbox, scope, needle);
            assert_eq!(
                search(Scope::Anywhere, "zanzibar").await,
                vec![1, 2],
                "{round}"
            );
            assert_eq!(search(Scope::Anywhere, "QUOKKA").await, vec![1], "{round}");
            assert!(search(Scope::Body, "quokka").await.is_empty(), "{round}");
            assert_eq!(
                search(Scope::Body, "greetings from").await,
                vec![1],
                "{round}"
            );
            hand.index().await;
        }
        assert_eq!(
            matches(&mut hand.conn, toto, "zanzibar").await,
            2,
            "both are indexed"
        );
        assert_eq!(matches(&mut hand.conn, toto, "greetings").await, 1);
        hand.close().await;
    }

    /// A search file of version 1 (one column for header and body) is rebuilt at the next
    /// start, so BODY never answers from a column that still holds header text.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_search_file_of_version_1_is_rebuilt() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (stores, toto, inbox) = store_with_inbox(dir.path()).await;
        deliver(&stores, toto, "Quokka sighting", "Seen on the island.").await;
        stores.close().await;
        remove_search_file(dir.path());
        let mut old = SqliteConnectOptions::new()
            .filename(search_path(dir.path()))
            .create_if_missing(true)
            .connect()
            .await
            .expect("search file");
        for statement in [
            "CREATE TABLE progress (id INTEGER PRIMARY KEY CHECK (id = 0), indexed INTEGER NOT NULL)",
            "INSERT INTO progress (id, indexed) VALUES (0, 1)",
            "CREATE VIRTUAL TABLE content_text USING fts5 (text, content = '', \
             contentless_delete = 1, tokenize = 'trigram')",
            "INSERT INTO content_text (rowid, text) VALUES (1, 'Subject: Quokka sighting')",
            "PRAGMA user_version = 1",
        ] {
            old.execute(statement).await.expect(statement);
        }
        old.close().await.expect("close");

        let stores = open_sqlite(dir.path()).await.expect("reopen");
        let mail = stores.mail.clone();
        assert!(
            mail.search_body(inbox, "quokka")
                .await
                .expect("search")
                .is_empty()
        );
        assert_eq!(
            mail.search_body(inbox, "island").await.expect("search"),
            vec![1]
        );
        indexed(&stores).await;
        assert!(
            mail.search_body(inbox, "quokka")
                .await
                .expect("search")
                .is_empty()
        );
        assert_eq!(
            mail.search_text(inbox, "quokka").await.expect("search"),
            vec![1]
        );
        assert_eq!(
            mail.search_body(inbox, "island").await.expect("search"),
            vec![1]
        );
        stores.close().await;
        let mut conn = open(dir.path()).await.expect("search file");
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut conn)
            .await
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        conn.close().await.expect("close");
    }

    /// The cut falls where the message's own header text ends: a forwarded message's header
    /// fields are body; a text cut at the limit inside the header is all header.
    #[test]
    fn split_text_cuts_after_the_messages_own_header() {
        let raw = b"Subject: Outer words\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nCover note\r\n\
            --b\r\nContent-Type: message/rfc822\r\n\r\nSubject: Inner words\r\n\r\nInner body\r\n\
            --b--\r\n";
        let index = MessageIndex::parse(raw);
        let split = split_text(index.search_text.clone(), raw);
        assert!(split.header.contains("Outer words"), "{split:?}");
        assert!(!split.header.contains("Cover note"), "{split:?}");
        for body_text in ["Cover note", "Inner words", "Inner body"] {
            assert!(split.body.contains(body_text), "{body_text}: {split:?}");
        }
        assert!(!split.body.contains("Outer"), "{split:?}");
        let cut = split_text("Subject: Out".to_owned(), raw);
        assert_eq!(cut.header, "Subject: Out");
        assert!(cut.body.is_empty());
        // A text that is not the message's: nothing is lost from the body.
        let other = split_text("Something else".to_owned(), raw);
        assert_eq!(other.body, "Something else");
    }

    /// A read-only connection to the search file of `dir`, beside a running store.
    async fn read_only(dir: &Path) -> SqliteConnection {
        SqliteConnectOptions::new()
            .filename(search_path(dir))
            .read_only(true)
            .connect()
            .await
            .expect("search file")
    }

    async fn stored_progress(dir: &Path) -> i64 {
        let mut conn = read_only(dir).await;
        let indexed = sqlx::query_scalar("SELECT indexed FROM progress")
            .fetch_one(&mut conn)
            .await
            .expect("progress");
        conn.close().await.expect("close");
        indexed
    }

    /// A restart resumes from the stored progress instead of indexing everything again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn indexing_resumes_from_the_stored_progress() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (stores, toto, inbox) = store_with_inbox(dir.path()).await;
        for subject in ["a", "b", "c"] {
            deliver(&stores, toto, subject, "Damson jam.").await;
        }
        indexed(&stores).await;
        stores.close().await;
        assert_eq!(stored_progress(dir.path()).await, 3);

        let stores = open_sqlite(dir.path()).await.expect("reopen");
        for subject in ["d", "e"] {
            deliver(&stores, toto, subject, "Damson jam.").await;
        }
        indexed(&stores).await;
        assert_eq!(
            stores
                .mail
                .search_text(inbox, "damson")
                .await
                .expect("search"),
            vec![1, 2, 3, 4, 5]
        );
        stores.close().await;
        assert_eq!(stored_progress(dir.path()).await, 5);
        let mut conn = open(dir.path()).await.expect("search file");
        assert_eq!(
            matches(&mut conn, toto, "damson").await,
            5,
            "each message's content indexed once"
        );
        conn.close().await.expect("close");
    }

    /// The rows of collected contents leave the index once the indexer is idle.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn collected_contents_are_purged_from_the_index() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (stores, toto, inbox) = store_with_inbox(dir.path()).await;
        deliver(&stores, toto, "a", "Quince jelly.").await;
        deliver(&stores, toto, "b", "Quince paste.").await;
        indexed(&stores).await;
        let mut watcher = read_only(dir.path()).await;
        assert_eq!(matches(&mut watcher, toto, "quince").await, 2);
        stores
            .mail
            .set_flags(
                inbox,
                &UidSet::single(1),
                FlagOp::Add,
                &Flags::system(SystemFlags::DELETED),
                None,
            )
            .await
            .expect("flag");
        stores.mail.expunge(inbox, None).await.expect("expunge");
        assert_eq!(
            stores
                .mail
                .search_text(inbox, "quince")
                .await
                .expect("search"),
            vec![2]
        );
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while matches(&mut watcher, toto, "quince").await != 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the collected content left the index"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(matches(&mut watcher, toto, "jelly").await, 0);
        watcher.close().await.expect("close");
        stores.close().await;
    }

    async fn inbox_of(stores: &Stores, mailbox: AddressId) -> FolderId {
        stores
            .mail
            .folder_by_name(mailbox, "INBOX")
            .await
            .expect("lookup")
            .expect("INBOX")
            .id
    }

    /// Each mailbox has documents of its own, made once per mailbox and content: a content
    /// delivered to two mailboxes, the same content delivered later to a third, a message
    /// moved to another mailbox; copies inside a mailbox add none. One mailbox's words are
    /// never found through another's terms.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_mailbox_has_documents_of_its_own() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = open_sqlite(dir.path()).await.expect("open");
        let toto_address = super::super::fixture::mailbox_toto(&stores, 10).await;
        let toto = toto_address.id;
        let titi = mailbox_in(&stores, toto_address.service, "titi").await.id;
        let tata = mailbox_in(&stores, toto_address.service, "tata").await.id;
        let (toto_inbox, titi_inbox, tata_inbox) = (
            inbox_of(&stores, toto).await,
            inbox_of(&stores, titi).await,
            inbox_of(&stores, tata).await,
        );
        deliver_to(&stores, &[toto, titi], "Shared", "Loquat season.").await;
        deliver(&stores, titi, "Own", "Medlar season.").await;
        indexed(&stores).await;
        // The same bytes: the content is known, the mailbox new to it.
        deliver(&stores, tata, "Shared", "Loquat season.").await;
        let mail = stores.mail.clone();
        let archive = mail.create_folder(toto, "Kept").await.expect("folder");
        mail.copy_messages(toto_inbox, &UidSet::single(1), archive.id)
            .await
            .expect("copy");
        mail.move_messages(titi_inbox, &UidSet::single(2), tata_inbox)
            .await
            .expect("move to another mailbox");
        indexed(&stores).await;

        let mut watcher = read_only(dir.path()).await;
        for (mailbox, loquat, medlar) in [(toto, 1, 0), (titi, 1, 1), (tata, 1, 1)] {
            assert_eq!(matches(&mut watcher, mailbox, "loquat").await, loquat);
            assert_eq!(matches(&mut watcher, mailbox, "MEDLAR").await, medlar);
        }
        let documents: i64 = sqlx::query_scalar("SELECT count(*) FROM docs")
            .fetch_one(&mut watcher)
            .await
            .expect("documents");
        assert_eq!(documents, 5, "loquat three times, medlar twice");
        watcher.close().await.expect("close");

        let search = |folder, needle: &'static str| {
            let mail = mail.clone();
            async move { mail.search_text(folder, needle).await.expect("search") }
        };
        assert!(search(toto_inbox, "medlar").await.is_empty());
        assert_eq!(search(archive.id, "loquat").await, vec![1]);
        assert_eq!(search(toto_inbox, "loquat").await, vec![1]);
        assert_eq!(search(titi_inbox, "loquat").await, vec![1]);
        assert!(search(titi_inbox, "medlar").await.is_empty(), "moved away");
        assert_eq!(search(tata_inbox, "loquat").await, vec![1]);
        assert_eq!(search(tata_inbox, "medlar").await, vec![2]);
        stores.close().await;
    }

    /// A round whose texts reach the bound ends before the first message whose text it did
    /// not read, and always makes at least one document: texts are read in the order the
    /// messages need them, not in content order (here the later messages name older contents).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_cut_by_the_bound_still_advances() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = open_sqlite(dir.path()).await.expect("open");
        let toto_address = super::super::fixture::mailbox_toto(&stores, 10).await;
        let toto = toto_address.id;
        let titi = mailbox_in(&stores, toto_address.service, "titi").await.id;
        let titi_inbox = inbox_of(&stores, titi).await;
        deliver(&stores, toto, "first", "Sloe gin.").await;
        deliver(&stores, toto, "second", "Crab apple.").await;
        deliver(&stores, titi, "second", "Crab apple.").await;
        deliver(&stores, titi, "first", "Sloe gin.").await;
        stores.close().await;
        let mut hand = HandDriven::open(dir.path()).await;
        let mut rounds = Vec::new();
        loop {
            let (round, reached) = hand.index_within(1).await;
            rounds.push(reached);
            if matches!(round, Round::CaughtUp) {
                break;
            }
        }
        // One text per round; the second serves both messages that need it.
        assert_eq!(rounds, vec![1, 3, 4]);
        assert_eq!(hand.search(titi_inbox, Scope::Body, "sloe").await, vec![2]);
        assert_eq!(hand.search(titi_inbox, Scope::Body, "crab").await, vec![1]);
        assert_eq!(matches(&mut hand.conn, titi, "sloe").await, 1);
        hand.close().await;
    }

    /// A data folder written before migration 4 (search text inside `idx`, trigram rows in the
    /// main database) keeps its messages searchable, and its indexes whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upgrade_from_migration_3_keeps_messages_searchable() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (stores, toto, inbox) = store_with_inbox(dir.path()).await;
        deliver(&stores, toto, "old", "Medlar compote.").await;
        deliver(&stores, toto, "damaged", "Rowan berries.").await;
        stores.close().await;
        // Turn the file back into what version 3 wrote.
        let mut conn = SqliteConnectOptions::new()
            .filename(dir.path().join(DATABASE_FILE))
            .connect()
            .await
            .expect("database");
        let legacy = message("old", "Medlar compote.").1.to_bytes();
        for statement in [
            "DELETE FROM _sqlx_migrations WHERE version = 4",
            "CREATE VIRTUAL TABLE content_text USING fts5 (text, content = '', \
             contentless_delete = 1, tokenize = 'trigram')",
            "INSERT INTO content_text (rowid, text) SELECT id, search_text FROM contents",
            "ALTER TABLE contents DROP COLUMN search_text",
        ] {
            conn.execute(statement).await.expect(statement);
        }
        sqlx::query("UPDATE contents SET idx = ?1 WHERE id = 1")
            .bind(&legacy)
            .execute(&mut conn)
            .await
            .expect("legacy index");
        // An index a later version cannot read: the message is parsed again.
        sqlx::query("UPDATE contents SET idx = x'ff' WHERE id = 2")
            .execute(&mut conn)
            .await
            .expect("unreadable index");
        conn.close().await.expect("close");
        remove_search_file(dir.path());

        let stores = open_sqlite(dir.path()).await.expect("upgraded");
        let search = |needle: &'static str| {
            let mail = stores.mail.clone();
            async move { mail.search_text(inbox, needle).await.expect("search") }
        };
        assert_eq!(search("medlar").await, vec![1]);
        assert_eq!(search("rowan").await, vec![2]);
        indexed(&stores).await;
        assert_eq!(search("medlar").await, vec![1]);
        assert_eq!(search("rowan").await, vec![2]);
        assert!(search("compote berries").await.is_empty());
        let indexes = stores
            .mail
            .message_indexes(inbox, &UidSet::all())
            .await
            .expect("indexes");
        let without_text = |(_, mut index): (Vec<u8>, MessageIndex)| {
            index.search_text.clear();
            index
        };
        assert_eq!(
            indexes[0].1,
            without_text(message("old", "Medlar compote."))
        );
        assert_eq!(
            indexes[1].1,
            without_text(message("damaged", "Rowan berries."))
        );
        stores.close().await;
    }
}
