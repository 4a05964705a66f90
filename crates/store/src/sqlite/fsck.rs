//! [`crate::fsck`] on the embedded store: one connection of its own, the checks in order, one
//! file per area under `fsck/`.
//!
//! The connection is read-only for a check. For a repair it takes SQLite's exclusive lock for
//! its whole life (`locking_mode = EXCLUSIVE`): that fails at once while any other process has
//! the database open — every connection to a WAL database holds a shared lock on the file until
//! it closes, the lock SQLite itself relies on to know who the last connection is — and, once
//! held, no server or admin command can start writing behind the repairs. A process that died
//! holds no lock, so a crashed server never blocks a repair.

mod contents;
mod database;
mod files;
mod folders;
mod queue;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqliteLockingMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use super::{BLOB_FOLDER, DATABASE_FILE, QUEUE_FOLDER};
use crate::error::Context;
use crate::fsck::{Check, Depth, Finding, FsckReport, Repair};
use crate::{BlobStore, FsBlobStore, StoreError};

/// One run: the connection, what it may do, and what it found so far.
pub(super) struct Fsck {
    conn: SqliteConnection,
    data_dir: PathBuf,
    repair: Repair,
    depth: Depth,
    findings: Vec<Finding>,
}

impl Fsck {
    /// Record a problem left as it is.
    fn found(&mut self, check: Check, subject: impl Into<String>, problem: impl Into<String>) {
        self.findings.push(Finding {
            check,
            subject: subject.into(),
            problem: problem.into(),
            repaired: false,
        });
    }

    /// Record a problem that was repaired; `problem` says what was wrong and what was done.
    fn repaired(&mut self, check: Check, subject: impl Into<String>, problem: impl Into<String>) {
        self.findings.push(Finding {
            check,
            subject: subject.into(),
            problem: problem.into(),
            repaired: true,
        });
    }

    fn repairing(&self) -> bool {
        self.repair == Repair::Yes
    }

    fn blob_root(&self) -> PathBuf {
        self.data_dir.join(BLOB_FOLDER)
    }

    fn queue_root(&self) -> PathBuf {
        self.data_dir.join(QUEUE_FOLDER)
    }

    /// The blob store of `root`, for repairs (its removals sync the folder, so a removed
    /// orphan does not come back after a crash).
    fn blob_store(root: &Path) -> Result<Arc<dyn BlobStore>, StoreError> {
        Ok(Arc::new(FsBlobStore::open(root)?))
    }
}

/// Behind [`crate::fsck::check`].
pub(crate) async fn check(
    data_dir: &Path,
    repair: Repair,
    depth: Depth,
) -> Result<FsckReport, StoreError> {
    let conn = connect(data_dir, repair).await?;
    let mut fsck = Fsck {
        conn,
        data_dir: data_dir.to_owned(),
        repair,
        depth,
        findings: Vec::new(),
    };
    ensure_migrated(&mut fsck.conn).await?;
    // The database's own structure first: every later check reads through it.
    database::check(&mut fsck).await?;
    folders::check_uids(&mut fsck).await?;
    folders::check_modseqs(&mut fsck).await?;
    contents::check_references(&mut fsck).await?;
    // Before the collection below, whose blob store removes stale temporary files unreported.
    files::check_mail_orphans(&mut fsck).await?;
    contents::check_uncollected(&mut fsck).await?;
    queue::check_messages(&mut fsck).await?;
    files::check_queue_orphans(&mut fsck).await?;
    fsck.conn.close().await.ctx("closing the database")?;
    Ok(FsckReport {
        findings: fsck.findings,
    })
}

async fn connect(data_dir: &Path, repair: Repair) -> Result<SqliteConnection, StoreError> {
    let file = data_dir.join(DATABASE_FILE);
    if !file.is_file() {
        return Err(StoreError::NotFound(format!(
            "there is no database at {}: check the data folder",
            file.display()
        )));
    }
    let options = SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(false)
        .foreign_keys(true);
    match repair {
        Repair::No => options
            .read_only(true)
            .connect()
            .await
            .ctx("opening the database"),
        Repair::Yes => {
            let mut conn = options
                .locking_mode(SqliteLockingMode::Exclusive)
                // Fail at once rather than wait: a server holds its lock for days.
                .busy_timeout(std::time::Duration::ZERO)
                .connect()
                .await
                .ctx("opening the database")?;
            // The first write transaction takes the exclusive lock, kept until the close.
            let locked = sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await;
            match locked {
                Ok(_) => {
                    sqlx::query("COMMIT")
                        .execute(&mut conn)
                        .await
                        .ctx("locking the database")?;
                    Ok(conn)
                }
                Err(e) if is_busy(&e) => Err(StoreError::Refused(format!(
                    "another process (a running server, or an admin command) has {} open: \
                     stop it before repairing",
                    file.display()
                ))),
                Err(e) => Err(StoreError::backend("locking the database", e)),
            }
        }
    }
}

fn is_busy(error: &sqlx::Error) -> bool {
    // SQLITE_BUSY (5) and its extended codes (x + 256·n).
    error
        .as_database_error()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i64>().ok())
        .is_some_and(|code| code & 0xff == 5)
}

/// The checks read columns of every migration: an older database must be migrated first, by
/// the server, never behind the operator's back by a check.
async fn ensure_migrated(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let expected = super::migrator()
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await
            .ctx("reading the schema version")?;
    if applied.unwrap_or(0) < expected {
        return Err(StoreError::Refused(format!(
            "the database schema is at version {} but this postwerk expects {expected}: start \
             the server once to migrate it, then run fsck again",
            applied.unwrap_or(0)
        )));
    }
    Ok(())
}
