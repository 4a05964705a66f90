//! The SQLite backend: the embedded default (OPS-1).
//!
//! One file, `<data_dir>/postwerk.sqlite3`, in WAL mode with `synchronous=FULL` so a commit is
//! durable when it returns. Writes go through one writer task that group-commits (see
//! [`writer`]); reads use a pool of read-only connections, which WAL lets run beside the
//! writer. All SQL of the backend lives in this module: [`directory`], [`mail`],
//! [`contents`], [`queue`], [`greylist`] and [`manager`], one file per area; the schema is in
//! `migrations/sqlite/`.
//!
//! The full-text index is derived data in a second file, `<data_dir>/search.sqlite3`, kept by
//! an indexer task after the commits (see [`search`]) and attached to the read connections.

mod cache;
mod checkpointer;
mod contents;
#[allow(unsafe_code)]
mod direct;
mod directory;
#[cfg(test)]
mod fixture;
pub(crate) mod fsck;
mod greylist;
mod identity;
mod indexer_priority;
mod mail;
mod manager;
mod queue;
mod search;
mod search_terms;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqlSafeStr};

use crate::blob::{BlobStore, FsBlobStore};
use crate::error::Context;
use crate::{Events, StoreError, Stores};
use search::{Indexer, Signal};
use writer::Writer;

pub use cache::DEFAULT_CACHE_BYTES;
pub use contents::INLINE_CONTENT_MAX;
pub use queue::QUEUE_FOLDER;
pub use search::SEARCH_DATABASE_FILE;

/// The database file inside the data folder.
pub const DATABASE_FILE: &str = "postwerk.sqlite3";

/// The blob folder inside the data folder.
pub const BLOB_FOLDER: &str = "blobs";

/// How long a write waits for another process holding the write lock (the admin CLI while the
/// server runs) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Read connections: readers never wait for the writer in WAL mode, so a few suffice for the
/// two cores this runs on; more would only hold more page caches.
const READ_CONNECTIONS: u32 = 8;

/// How the embedded store runs, beyond its data folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Octets of memory for the folder cache behind [`crate::MailStore::fetch_view`], shared by
    /// every folder (least recently used folders dropped first); 0 disables it.
    pub cache_bytes: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// Open (creating if needed) the embedded store in `data_dir` with the default options:
/// creates the folder, runs the migrations, starts the writer task. Must be called inside a
/// Tokio runtime.
pub async fn open_sqlite(data_dir: &Path) -> Result<Stores, StoreError> {
    open_sqlite_with(data_dir, &SqliteOptions::default()).await
}

/// [`open_sqlite`] with `options`.
pub async fn open_sqlite_with(
    data_dir: &Path,
    options: &SqliteOptions,
) -> Result<Stores, StoreError> {
    std::fs::create_dir_all(data_dir).map_err(|e| StoreError::io(data_dir, e))?;
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(&data_dir.join(BLOB_FOLDER))?);
    open_with_blobs(data_dir, blobs, options).await
}

/// `open_sqlite` with another blob store (an S3 bucket later; a faulty one in tests).
pub(crate) async fn open_with_blobs(
    data_dir: &Path,
    blobs: Arc<dyn BlobStore>,
    store_options: &SqliteOptions,
) -> Result<Stores, StoreError> {
    std::fs::create_dir_all(data_dir).map_err(|e| StoreError::io(data_dir, e))?;
    let file = data_dir.join(DATABASE_FILE);
    let options = SqliteConnectOptions::new()
        .filename(&file)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let write_options = options
        .clone()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL + FULL: every commit fsyncs the WAL, so an answered write survives power loss
        // (RCV-12). NORMAL would only guarantee consistency, not durability.
        .synchronous(SqliteSynchronous::Full)
        // Checkpoints are the checkpointer's job, off the writer's path; this is a backstop.
        .pragma(
            "wal_autocheckpoint",
            checkpointer::WRITER_AUTOCHECKPOINT_PAGES.to_string(),
        );
    let mut write_conn = write_options
        .clone()
        .connect()
        .await
        .ctx("opening the database")?;
    // `run_direct` rather than `run`: `run` goes through `Acquire`, whose lifetimes make this
    // future not provably `Send` (sqlx's own comment on `run_direct` says so), and callers
    // spawn `open_sqlite`.
    migrator()
        .run_direct(None, &mut write_conn, false)
        .await
        .map_err(|e| StoreError::backend("migrating the database", e))?;
    // Before the read connections, which attach it.
    let search_conn = search::open(data_dir).await?;
    let pool = read_pool(data_dir, options).await?;
    let events = Events::new();
    let signal = Arc::new(Signal::default());
    let checkpoint_conn = write_options
        .clone()
        .connect()
        .await
        .ctx("opening the checkpoint connection")?;
    let writer = Writer::start(
        write_conn,
        checkpoint_conn,
        write_options,
        events.clone(),
        blobs.clone(),
        contents::collect_garbage,
        signal.clone(),
    );
    let indexer = Indexer::start(search_conn, pool.clone(), blobs.clone(), signal);
    // The queue keeps its contents in a folder of its own: mailbox content collection and
    // queue removals never touch each other's files.
    let queue_blobs: Arc<dyn BlobStore> =
        Arc::new(FsBlobStore::open(&data_dir.join(QUEUE_FOLDER))?);
    let queue = Arc::new(queue::SqliteQueue {
        pool: pool.clone(),
        writer: writer.clone(),
        blobs: queue_blobs,
        changed: Arc::default(),
    });
    let greylist = Arc::new(greylist::SqliteGreylist {
        pool: pool.clone(),
        writer: writer.clone(),
    });
    let store = Arc::new(SqliteStore {
        pool,
        writer,
        indexer,
        blobs: blobs.clone(),
        events: events.clone(),
        cache: cache::FolderCache::new(store_options.cache_bytes),
    });
    Ok(Stores {
        directory: store.clone(),
        mail: store.clone(),
        manager: store.clone(),
        identity: store.clone(),
        queue,
        greylist,
        blobs,
        events,
        backend: store,
    })
}

/// The read connections: read-only (a write on the pool would bypass the writer and its group
/// commit), with the search file attached as `search`. It must exist already (see
/// [`search::open`]).
pub(super) async fn read_pool(
    data_dir: &Path,
    options: SqliteConnectOptions,
) -> Result<SqlitePool, StoreError> {
    let search_file = search::search_path(data_dir);
    let search_file = search_file
        .to_str()
        .ok_or_else(|| {
            StoreError::backend(
                "opening the read connections",
                format!("the path {} is not UTF-8", search_file.display()),
            )
        })?
        .to_owned();
    SqlitePoolOptions::new()
        .max_connections(READ_CONNECTIONS)
        .after_connect(move |conn, _| {
            let search_file = search_file.clone();
            Box::pin(async move {
                // Attached databases share the connection's flags, so this one is read-only too.
                let attached = sqlx::query("ATTACH DATABASE ?1 AS search")
                    .bind(&search_file)
                    .execute(conn)
                    .await;
                if let Err(error) = attached {
                    // The file was removed while the store runs: searches on this connection
                    // fail until the next start rebuilds it, everything else keeps working.
                    tracing::error!(%error, file = search_file, "attaching the search index");
                }
                Ok(())
            })
        })
        .connect_with(options.read_only(true))
        .await
        .ctx("opening the read connections")
}

/// The migrations, embedded in the binary so it needs no files beside it.
fn migrator() -> Migrator {
    let migration = |version, description: &'static str, sql: &'static str| {
        Migration::new(
            version,
            description.into(),
            MigrationType::Simple,
            sql.into_sql_str(),
            false,
        )
    };
    Migrator::with_migrations(vec![
        migration(
            1,
            "directory",
            include_str!("../../migrations/sqlite/0001_directory.sql"),
        ),
        migration(
            2,
            "mail",
            include_str!("../../migrations/sqlite/0002_mail.sql"),
        ),
        migration(
            3,
            "queue",
            include_str!("../../migrations/sqlite/0003_queue.sql"),
        ),
        migration(
            4,
            "search",
            include_str!("../../migrations/sqlite/0004_search.sql"),
        ),
        migration(
            5,
            "inline contents",
            include_str!("../../migrations/sqlite/0005_inline_contents.sql"),
        ),
        migration(
            6,
            "queue delivery",
            include_str!("../../migrations/sqlite/0006_queue_delivery.sql"),
        ),
        migration(
            7,
            "dkim keys",
            include_str!("../../migrations/sqlite/0007_dkim_keys.sql"),
        ),
        // 8 is reserved for work in progress elsewhere; sqlx accepts the gap.
        migration(
            9,
            "greylist",
            include_str!("../../migrations/sqlite/0009_greylist.sql"),
        ),
        migration(
            10,
            "manager",
            include_str!("../../migrations/sqlite/0010_manager.sql"),
        ),
        migration(
            11,
            "identity",
            include_str!("../../migrations/sqlite/0011_identity.sql"),
        ),
        migration(
            12,
            "held submissions",
            include_str!("../../migrations/sqlite/0012_held.sql"),
        ),
        migration(
            13,
            "delivery fingerprints",
            include_str!("../../migrations/sqlite/0013_delivery_fingerprints.sql"),
        ),
        migration(
            14,
            "shared files",
            include_str!("../../migrations/sqlite/0014_shared_files.sql"),
        ),
        migration(
            15,
            "queue fingerprints",
            include_str!("../../migrations/sqlite/0015_queue_fingerprints.sql"),
        ),
        migration(
            16,
            "send-as grants",
            include_str!("../../migrations/sqlite/0016_send_as_grants.sql"),
        ),
    ])
}

/// The SQLite implementation of [`crate::Directory`], [`crate::MailStore`] and
/// [`crate::ManagerStore`].
#[derive(Debug)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
    indexer: Indexer,
    blobs: Arc<dyn BlobStore>,
    events: Events,
    /// Folder views for FETCH, shared by every session (see [`cache`]).
    cache: cache::FolderCache,
}

#[async_trait]
impl crate::Backend for SqliteStore {
    async fn close(&self) {
        // Committed mail first; the index is derived and resumes at the next start.
        self.writer.close().await;
        self.indexer.close().await;
        self.pool.close().await;
    }

    async fn wait_indexed(&self) -> Result<(), StoreError> {
        self.indexer.wait_indexed().await
    }
}

/// Now, in Unix seconds. The store stamps `created_at` and SAVEDATE itself; everything a rule
/// depends on gets its time from the caller.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A stored integer that must fit the model's type; anything else is a corrupt row.
fn int<T: TryFrom<i64>>(value: i64, what: &'static str) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::backend(what, format!("{value} is out of range")))
}

/// Parse a stored text with the model's constructor; failure is a corrupt row.
fn parse<T: FromStr>(text: &str, what: &'static str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| StoreError::backend(what, format!("{text:?}: {e}")))
}

/// Decode a stored JSON column; failure is a corrupt row.
fn json<T: serde::de::DeserializeOwned>(text: &str, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::backend(what, e))
}

/// Encode a value for a JSON column.
fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("encoding a JSON column", e))
}

/// A UNIQUE violation becomes the conflict sentence, anything else a backend failure.
///
/// The writes check for duplicates explicitly first, to say which row is in the way; the
/// constraint is the backstop that keeps the data right if a check is ever missed.
fn conflict_or(error: sqlx::Error, sentence: String) -> StoreError {
    if error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
    {
        StoreError::Conflict(sentence)
    } else {
        StoreError::backend("inserting a row", error)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use postwerk_message::MessageIndex;

    use super::*;
    use crate::{BlobId, DeliveryTarget, Flags, UidSet};

    /// A blob store whose first `put` loses the file right after writing it, as if a
    /// collection in another process removed it between the put and the commit.
    #[derive(Debug)]
    struct Vanishing {
        inner: FsBlobStore,
        puts: AtomicUsize,
    }

    #[async_trait]
    impl BlobStore for Vanishing {
        async fn put(&self, content: &[u8]) -> Result<BlobId, StoreError> {
            let id = self.inner.put(content).await?;
            if self.puts.fetch_add(1, Ordering::SeqCst) == 0 {
                self.inner.remove(&id).await?;
            }
            Ok(id)
        }

        async fn read(&self, id: &BlobId) -> Result<Vec<u8>, StoreError> {
            self.inner.read(id).await
        }

        async fn exists(&self, id: &BlobId) -> Result<bool, StoreError> {
            self.inner.exists(id).await
        }

        async fn remove(&self, id: &BlobId) -> Result<(), StoreError> {
            self.inner.remove(id).await
        }
    }

    #[tokio::test]
    async fn rcv_12_a_blob_removed_before_the_commit_is_written_again() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let inner = FsBlobStore::open(&dir.path().join(BLOB_FOLDER)).expect("blobs");
        let blobs = Arc::new(Vanishing {
            inner: inner.clone(),
            puts: AtomicUsize::new(0),
        });
        let stores = open_with_blobs(dir.path(), blobs.clone(), &SqliteOptions::default())
            .await
            .expect("open");
        let toto = fixture::mailbox_toto(&stores, 1).await;
        // Above the inline threshold: only a content with a blob file can lose it.
        let mut raw = b"Subject: vanishing\r\n\r\n".to_vec();
        raw.resize(INLINE_CONTENT_MAX + 1, b'x');
        let index = MessageIndex::parse(&raw);
        let stored = stores
            .mail
            .deliver(
                &raw,
                &index,
                &[DeliveryTarget::inbox(toto.id)],
                &Flags::none(),
                0,
            )
            .await
            .expect("delivered despite the vanished blob");
        assert_eq!(
            blobs.puts.load(Ordering::SeqCst),
            2,
            "written a second time"
        );
        assert!(inner.path(&BlobId::of(&raw)).is_file());
        let listed = stores
            .mail
            .list_messages(stored[0].folder, &UidSet::all())
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(
            stores
                .mail
                .read_message(stored[0].folder, 1)
                .await
                .expect("read"),
            raw
        );
        stores.close().await;
    }
}
