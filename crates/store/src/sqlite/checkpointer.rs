//! WAL checkpoints off the writer's path.
//!
//! ```text
//!  writer ── COMMIT ──► Wake::committed ──► checkpointer task (connection of its own)
//!                                             │ waits CHECKPOINT_EVERY, gathering commits
//!                                             └ PRAGMA wal_checkpoint(PASSIVE)
//! ```
//!
//! SQLite's default is an automatic checkpoint by the connection whose commit takes the WAL
//! past 1,000 pages, inside that commit: the writer copies those pages into the database file
//! and fsyncs it while every delivery of the next batch waits. With 100 KB messages that came
//! every few dozen messages and cost about 6% of the server's CPU on the writer's path (issue
//! 3's ingest profile). A passive checkpoint needs no write lock (SQLite lets one checkpoint
//! run beside the writer), so a task of its own does it here and the writer only commits.
//! The writer keeps a far larger automatic threshold ([`WRITER_AUTOCHECKPOINT_PAGES`]) as a
//! backstop, should this task ever fall behind. Durability does not depend on either: a
//! committed transaction is in the fsynced WAL (RCV-12).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::SqliteConnection;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The writer's own automatic checkpoint threshold, in pages (64 MiB of 4 KiB pages): reached
/// only if the checkpointer falls behind, so the WAL stays bounded in every case.
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// How long after a commit the checkpoint runs: the commits of that span share one copy of the
/// pages they rewrite (b-tree pages near the end of a table change in every commit) and one
/// fsync of the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// What the writer tells the checkpointer; shared by both.
#[derive(Debug, Default)]
struct Wake {
    notify: Notify,
    stopping: AtomicBool,
}

impl Wake {}

/// The writer's handle on the checkpointer task.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    wake: Arc<Wake>,
    task: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the task on `conn`, a connection to the main database of its own.
    pub(crate) fn start(conn: SqliteConnection) -> Checkpointer {
        let wake = Arc::new(Wake::default());
        let task = tokio::spawn(run(conn, wake.clone()));
        Checkpointer { wake, task }
    }

    /// A transaction was committed: the WAL has grown.
    pub(crate) fn committed(&self) {
        self.wake.notify.notify_one();
    }

    /// The writer has stopped: checkpoint once more, close the connection and return.
    pub(crate) async fn stop(self) {
        self.wake.stopping.store(true, Ordering::Release);
        self.wake.notify.notify_one();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the checkpoint task failed");
        }
    }
}

async fn run(mut conn: SqliteConnection, wake: Arc<Wake>) {
    loop {
        wake.notify.notified().await;
        let stopping = wake.stopping.load(Ordering::Acquire);
        if !stopping {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
        checkpoint(&mut conn).await;
        if stopping || wake.stopping.load(Ordering::Acquire) {
            break;
        }
    }
    if let Err(error) = sqlx::Connection::close(conn).await {
        tracing::warn!(%error, "closing the checkpoint connection");
    }
}

/// One passive checkpoint: copies what no reader still needs from the WAL; never waits for
/// readers or the writer. A failure is logged and retried at the next commit.
async fn checkpoint(conn: &mut SqliteConnection) {
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *conn)
        .await
    {
        Ok((_, wal_pages, copied)) => {
            tracing::trace!(wal_pages, copied, "checkpoint");
        }
        Err(error) => tracing::warn!(%error, "checkpointing the write-ahead log"),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};

    use super::*;
    use crate::sqlite::{DATABASE_FILE, open_sqlite};

    /// Whether the organization `name` is in the database file itself: `immutable` makes
    /// SQLite read the file alone, ignoring the WAL, so only checkpointed rows show (and
    /// looking checkpoints nothing). Before the first checkpoint the file has no tables yet.
    async fn checkpointed(dir: &std::path::Path, name: &str) -> bool {
        let mut conn = SqliteConnectOptions::new()
            .filename(dir.join(DATABASE_FILE))
            .immutable(true)
            .read_only(true)
            .connect()
            .await
            .unwrap();
        let count: Result<i64, _> =
            sqlx::query_scalar("SELECT count(*) FROM organizations WHERE name = ?1")
                .bind(name)
                .fetch_one(&mut conn)
                .await;
        conn.close_hard().await.unwrap();
        count.is_ok_and(|count| count == 1)
    }

    /// A commit reaches the database file through the task, far below the writer's own
    /// threshold and while the store stays open (its last connection's close would
    /// checkpoint too).
    #[tokio::test]
    async fn commits_are_checkpointed_by_the_task() {
        let dir = tempfile::tempdir().unwrap();
        let stores = open_sqlite(dir.path()).await.unwrap();
        assert!(!checkpointed(dir.path(), "Checkpointed").await);
        stores.directory.create_org("Checkpointed").await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !checkpointed(dir.path(), "Checkpointed").await {
            assert!(
                std::time::Instant::now() < deadline,
                "the commit never reached the database file"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stores.backend.close().await;
    }
}
