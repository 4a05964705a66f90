//! Statements run straight on the writer's SQLite handle, from the writer's own thread.
//!
//! Why: sqlx runs each statement on its connection's worker thread, so every statement of a
//! write is a round trip between two threads: a wake-up there and one back, each a wait for
//! a core. Under 16 SMTP sessions on two cores the writer, the one serial step of ingest,
//! spent most of a delivery waiting between its statements (issue 3: it was busy 95% of the
//! time at 2 KB). A [`Loan`] takes sqlx's lock on the handle once (one round trip) and runs
//! any number of statements synchronously with rusqlite.
//!
//! Only the writer uses this, inside its group transaction: the statements join the
//! transaction and the savepoints like any other, since they run on the same handle.

use sqlx::SqliteConnection;
use sqlx::sqlite::LockedSqliteHandle;

use crate::StoreError;
use crate::error::Context;

/// The writer's SQLite handle, lent to rusqlite while sqlx's worker waits.
pub(super) struct Loan<'c> {
    // Declared first so it is dropped first: its statements are finalized while the lock
    // is still held.
    db: rusqlite::Connection,
    _locked: LockedSqliteHandle<'c>,
}

impl Loan<'_> {
    /// The handle, to run statements on. They must not block on anything but SQLite.
    pub(super) fn db(&self) -> &rusqlite::Connection {
        &self.db
    }
}

/// Borrows `conn`'s handle until the loan is dropped; `conn` cannot be used meanwhile.
pub(super) async fn lend(conn: &mut SqliteConnection) -> Result<Loan<'_>, StoreError> {
    const WHAT: &str = "taking the database handle";
    let mut locked = conn.lock_handle().await.ctx(WHAT)?;
    let raw = locked.as_raw_handle();
    // SAFETY: `locked` holds sqlx's lock on this handle for as long as the loan lives, so
    // nothing else uses it meanwhile; `db` does not own the handle (`from_handle` never
    // closes it), and the loan drops it, finalizing its statements, before the lock.
    let db = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }.ctx(WHAT)?;
    Ok(Loan {
        db,
        _locked: locked,
    })
}

/// Runs `statements` on `conn`'s handle (see [`lend`]).
pub(super) async fn run<T>(
    conn: &mut SqliteConnection,
    statements: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let loan = lend(conn).await?;
    statements(loan.db())
}
