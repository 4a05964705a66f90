//! Group commit: the one task that writes to the database.
//!
//! ```text
//!  caller ─┐ Job{op, reply}                 ┌─► wake the full-text indexer (new contents)
//!  caller ─┼──► mpsc ──► writer task ───────┼─► reply (after COMMIT) ─► caller
//!  caller ─┘            BEGIN IMMEDIATE      └─► FolderEvents (after COMMIT)
//!                       SAVEPOINT / op [/ ROLLBACK TO]   (one per job, up to MAX_BATCH)
//!                       COMMIT  ← one fsync for the whole batch (synchronous=FULL)
//! ```
//!
//! Why: with `synchronous=FULL` a commit costs an fsync (milliseconds), whatever it holds.
//! Writers that arrive while a commit is in flight queue up; the writer then takes them all
//! into the next transaction, so N concurrent deliveries cost one fsync, not N. Each job runs
//! in its own savepoint, so a job that fails (quota reached, duplicate) rolls back alone and the
//! others commit. A caller is answered only after the COMMIT that holds its write has returned
//! (RCV-12); if that COMMIT fails, every job of the batch is answered with the failure. A job
//! that deleted messages is answered after one more step, the collection of the contents it
//! freed (blob files included), so whoever deletes a mailbox finds its content gone (ADDR-8).
//!
//! Measured (see `examples/insert_bench.rs`): the fsync is not the only cost; each job's
//! statements travel to sqlx's connection thread and back one by one, and on a busy machine
//! each return waits for a core. Jobs made only of statements (delivery, APPEND) are
//! therefore *direct* jobs ([`Writer::write_direct`]): consecutive ones borrow the SQLite
//! handle once and run on the writer's thread with rusqlite ([`super::direct`]). Measured
//! A/B on 2 KB messages: twice the deliveries per second with 16 concurrent writers in
//! `insert_bench`, 40–50% more through SMTP at 16 connections (bench/README.md round 9).
//!
//! The trigram full-text index used to cost about as much as the rest of a 2 KB message's insert; it is now built
//! after the commit by the indexer (see [`super::search`]), on a connection and a core of its
//! own, so the writer only wakes it.
//!
//! `BEGIN IMMEDIATE` takes SQLite's write lock up front, so another process writing the same
//! file (the admin CLI) makes us wait `busy_timeout` rather than fail halfway through a batch.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::ConnectOptions as _;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::checkpointer::Checkpointer;
use super::search::Signal;
use crate::{BlobStore, Events, FolderEvent, StoreError};

/// Most jobs in one transaction: bounds the latency of the first job of a long queue and the
/// size of the WAL written by one commit.
const MAX_BATCH: usize = 256;

/// Jobs waiting for the writer before callers feel back-pressure.
const QUEUE: usize = 4096;

/// The name of the writer's thread (in `top -H`, `perf`).
const WRITER_THREAD: &str = "postwerk-writer";

/// What a job produced, kept until its commit.
pub(crate) struct Written<T> {
    /// The answer for the caller.
    pub value: T,
    /// Published after the commit.
    pub events: Vec<FolderEvent>,
    /// The job deleted messages: look for contents no longer referenced after the commit.
    pub garbage: bool,
    /// The job stored new messages: wake the full-text indexer after the commit.
    pub indexable: bool,
}

impl<T> Written<T> {
    /// A write that changed no folder.
    pub fn value(value: T) -> Written<T> {
        Written {
            value,
            events: Vec::new(),
            garbage: false,
            indexable: false,
        }
    }

    /// A write that changed folders.
    pub fn with_events(value: T, events: Vec<FolderEvent>) -> Written<T> {
        Written {
            value,
            events,
            garbage: false,
            indexable: false,
        }
    }

    /// Mark that the write deleted messages.
    pub fn collect_garbage(mut self) -> Written<T> {
        self.garbage = true;
        self
    }

    /// Mark that the write stored new messages, which the full-text indexer must pick up (a
    /// known content is new to the index in a mailbox that did not hold it).
    pub fn new_messages(mut self) -> Written<T> {
        self.indexable = true;
        self
    }
}

impl<T: Send + 'static> Written<T> {
    /// The same write with its answer boxed, as the writer carries it.
    fn erase(self) -> Written<AnyValue> {
        Written {
            value: Box::new(self.value),
            events: self.events,
            garbage: self.garbage,
            indexable: self.indexable,
        }
    }
}

type AnyValue = Box<dyn Any + Send>;
type OpFn = Box<
    dyn for<'c> FnOnce(
            &'c mut SqliteConnection,
        ) -> BoxFuture<'c, Result<Written<AnyValue>, StoreError>>
        + Send,
>;

/// A job whose statements run on the writer's own thread, straight on the SQLite handle
/// ([`super::direct`]): no round trip to sqlx's worker thread per statement.
type DirectFn =
    Box<dyn FnOnce(&rusqlite::Connection) -> Result<Written<AnyValue>, StoreError> + Send>;

type Reply = oneshot::Sender<Result<AnyValue, StoreError>>;

/// What a job runs.
enum Op {
    Sqlx(OpFn),
    Direct(DirectFn),
}

struct Job {
    op: Op,
    reply: Reply,
}

enum Command {
    Job(Job),
    /// Finish the queued work, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// Runs after each commit that deleted messages, inside its own transaction: removes the
/// contents nobody references any more and returns their ids (see
/// `contents::collect_garbage`).
pub(crate) type Collector = for<'c> fn(
    &'c mut SqliteConnection,
    &'c Arc<dyn BlobStore>,
) -> BoxFuture<'c, Result<Vec<i64>, StoreError>>;

/// The handle callers use to submit writes. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    sender: mpsc::Sender<Command>,
}

impl Writer {
    /// Start the writer task on `conn`, which must be the only connection that writes;
    /// `reopen` opens it again when a failed commit leaves it unusable. `checkpoint_conn`
    /// is the [`Checkpointer`]'s: the writer starts it and stops it when it stops itself.
    pub fn start(
        conn: SqliteConnection,
        checkpoint_conn: SqliteConnection,
        reopen: SqliteConnectOptions,
        events: Events,
        blobs: Arc<dyn BlobStore>,
        collector: Collector,
        signal: Arc<Signal>,
    ) -> Writer {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let checkpointer = Checkpointer::start(checkpoint_conn);
        let task = run(
            conn,
            checkpointer,
            reopen,
            receiver,
            events,
            blobs,
            collector,
            signal,
        );
        // A thread and a runtime of its own: every statement of a job is a round trip to
        // sqlx's connection thread, and on the shared runtime each return waited behind the
        // sessions' tasks (parsing, TLS). Under 16 busy SMTP connections of 2 KB messages that
        // queueing made a group commit about a quarter longer (8–9 ms against 6–7 ms here,
        // bench/README.md round 8); here the writer resumes as soon as its statement is done,
        // and the kernel shares the cores between threads.
        let spawned = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .and_then(|runtime| {
                std::thread::Builder::new()
                    .name(WRITER_THREAD.to_owned())
                    .spawn(move || runtime.block_on(task))
            });
        if let Err(error) = spawned {
            // Without a writer every write fails with "the store is closed"; say why.
            tracing::error!(%error, "starting the writer thread");
        }
        Writer { sender }
    }

    /// Run `op` inside the next group transaction and answer once that transaction is
    /// committed. `op` must not begin or commit transactions itself (savepoints are fine).
    pub async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut SqliteConnection,
            ) -> BoxFuture<'c, Result<Written<T>, StoreError>>
            + Send
            + 'static,
    {
        let op: OpFn =
            Box::new(move |conn| Box::pin(async move { op(conn).await.map(Written::erase) }));
        self.submit(Op::Sqlx(op)).await
    }

    /// [`Writer::write`] for a job made only of statements, run on the writer's thread
    /// straight on the SQLite handle: the hot path of delivery, where each statement through
    /// sqlx would be a round trip between threads. The same rules hold: no transaction
    /// control in `op`.
    pub async fn write_direct<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<Written<T>, StoreError> + Send + 'static,
    {
        let op: DirectFn = Box::new(move |db| op(db).map(Written::erase));
        self.submit(Op::Direct(op)).await
    }

    async fn submit<T: Send + 'static>(&self, op: Op) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Command::Job(Job { op, reply }))
            .await
            .map_err(|_| closed())?;
        let value = answer.await.map_err(|_| closed())??;
        value
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| StoreError::backend("answering a write", "the answer has the wrong type"))
    }

    /// Whether the writer has stopped (the store was closed): lets callers skip work whose
    /// write would be refused anyway.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Let the queued writes finish, then close the connection. Writes submitted afterwards
    /// fail with a backend error.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Command::Close(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

fn closed() -> StoreError {
    StoreError::backend("submitting a write", "the store is closed")
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut conn: SqliteConnection,
    checkpointer: Checkpointer,
    reopen: SqliteConnectOptions,
    mut receiver: mpsc::Receiver<Command>,
    events: Events,
    blobs: Arc<dyn BlobStore>,
    collector: Collector,
    signal: Arc<Signal>,
) {
    // Contents left unreferenced by a crash between a commit and its collection.
    match collector(&mut conn, &blobs).await {
        Ok(collected) => signal.contents_collected(collected),
        Err(error) => tracing::error!(%error, "collecting unreferenced message contents at start"),
    }
    let mut close = None;
    while close.is_none() {
        let mut batch = Vec::new();
        match receiver.recv().await {
            Some(Command::Job(job)) => batch.push(job),
            Some(Command::Close(done)) => close = Some(done),
            None => break,
        }
        // Take whatever queued up meanwhile: this is what makes the commit shared.
        while close.is_none() && batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(Command::Job(job)) => batch.push(job),
                Ok(Command::Close(done)) => close = Some(done),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let (jobs, started) = (batch.len(), std::time::Instant::now());
        let deferred = run_batch(&mut conn, batch, &events, &signal).await;
        checkpointer.committed();
        if conn.is_in_transaction() {
            // A COMMIT or ROLLBACK that failed (a full disk: SQLite had already rolled the
            // transaction back) leaves sqlx counting a transaction SQLite no longer has, and
            // every later BEGIN would be refused. A fresh connection has neither (issue 10:
            // service resumes when space returns).
            match reopen.connect().await {
                Ok(fresh) => {
                    tracing::warn!("the write connection was reopened after a failed commit");
                    let stale = std::mem::replace(&mut conn, fresh);
                    drop(stale);
                }
                Err(error) => tracing::error!(%error, "reopening the write connection"),
            }
        }
        tracing::debug!(
            jobs,
            elapsed_us = started.elapsed().as_micros(),
            "group commit"
        );
        if !deferred.is_empty() {
            match collector(&mut conn, &blobs).await {
                Ok(collected) => signal.contents_collected(collected),
                // The contents stay queued in the database and are collected next time; the
                // deletions themselves are committed, so their callers still get success.
                Err(error) => tracing::error!(%error, "collecting unreferenced message contents"),
            }
            for (reply, value) in deferred {
                let _ = reply.send(Ok(value));
            }
        }
    }
    if let Err(error) = conn.close().await {
        tracing::warn!(%error, "closing the write connection");
    }
    checkpointer.stop().await;
    if let Some(done) = close {
        let _ = done.send(());
    }
}

/// Run one group transaction and answer its jobs, except the committed jobs that deleted
/// messages: those are returned, to be answered once the contents they freed are collected,
/// so that a caller who deleted a mailbox finds its blobs gone (ADDR-8).
async fn run_batch(
    conn: &mut SqliteConnection,
    batch: Vec<Job>,
    events: &Events,
    signal: &Signal,
) -> Vec<(Reply, AnyValue)> {
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            let broken = Broken::from(e);
            for job in batch {
                let _ = job.reply.send(Err(broken.error("starting a write")));
            }
            return Vec::new();
        }
    };
    // Jobs that succeeded, waiting for the commit.
    let mut done: Vec<(Reply, Written<AnyValue>)> = Vec::with_capacity(batch.len());
    let mut broken: Option<Broken> = None;
    let mut jobs = batch.into_iter().peekable();
    // Each job in a savepoint of its own, which the next job's releases in the same round
    // trip (a RELEASE of its own would be one more per job); COMMIT releases the last. Not
    // nesting them matters: SQLite copies a page into its sub-journal for every open
    // savepoint that has not seen it, so hundreds of nested savepoints made a large batch
    // quadratic (`insert_bench`, 64 writers: half the rate). A job that fails rolls back to
    // its own savepoint, which undoes that job alone.
    let mut savepoint_open = false;
    while let Some(job) = jobs.next() {
        if let Some(broken) = &broken {
            let _ = job.reply.send(Err(broken.error("running a write")));
            continue;
        }
        match job.op {
            Op::Sqlx(op) => {
                let open = next_savepoint(savepoint_open);
                if let Err(e) = sqlx::raw_sql(open).execute(&mut *tx).await {
                    let cause = Broken::from(e);
                    let _ = job.reply.send(Err(cause.error("starting a write")));
                    broken = Some(cause);
                    continue;
                }
                savepoint_open = true;
                // A panic in one job must not take the writer (and every later write) down
                // with it.
                let outcome = AssertUnwindSafe(op(&mut tx)).catch_unwind().await;
                match outcome.unwrap_or_else(|_| Err(panicked())) {
                    Ok(written) => done.push((job.reply, written)),
                    Err(error) => {
                        if let Err(e) = sqlx::query("ROLLBACK TO job").execute(&mut *tx).await {
                            // SQLite may have rolled the whole transaction back (disk full,
                            // I/O error): nothing of this batch can be trusted any more.
                            broken = Some(Broken::from(e));
                        }
                        let _ = job.reply.send(Err(error));
                    }
                }
            }
            Op::Direct(op) => {
                // This job and the direct jobs right behind it share one loan of the handle.
                let mut run = vec![(op, job.reply)];
                while let Some(Job {
                    op: Op::Direct(_), ..
                }) = jobs.peek()
                {
                    if let Some(Job {
                        op: Op::Direct(op),
                        reply,
                    }) = jobs.next()
                    {
                        run.push((op, reply));
                    }
                }
                match super::direct::lend(&mut tx).await {
                    Ok(loan) => {
                        let (succeeded, cause) = run_direct(loan.db(), run, &mut savepoint_open);
                        done.extend(succeeded);
                        broken = cause;
                    }
                    Err(error) => {
                        let cause = Broken {
                            full: error.is_storage_full(),
                            detail: error.to_string(),
                        };
                        for (_, reply) in run {
                            let _ = reply.send(Err(cause.error("starting a write")));
                        }
                        broken = Some(cause);
                    }
                }
            }
        }
    }
    let committed = match broken {
        Some(broken) => {
            let _ = tx.rollback().await;
            Err(broken)
        }
        None => tx.commit().await.map_err(Broken::from),
    };
    match committed {
        Ok(()) => {
            if done.iter().any(|(_, written)| written.indexable) {
                signal.messages_stored();
            }
            let mut deferred = Vec::new();
            for (reply, written) in done {
                for event in written.events {
                    events.publish(event);
                }
                if written.garbage {
                    deferred.push((reply, written.value));
                } else {
                    let _ = reply.send(Ok(written.value));
                }
            }
            deferred
        }
        Err(broken) => {
            for (reply, _) in done {
                let _ = reply.send(Err(broken.error("committing a group of writes")));
            }
            Vec::new()
        }
    }
}

/// Runs consecutive direct jobs of a batch on the lent handle, each in its savepoint as in
/// [`run_batch`]. Returns the jobs that succeeded, and the failure that broke the
/// transaction, if one did (the jobs after it are answered with it).
fn run_direct(
    db: &rusqlite::Connection,
    run: Vec<(DirectFn, Reply)>,
    savepoint_open: &mut bool,
) -> (Vec<(Reply, Written<AnyValue>)>, Option<Broken>) {
    let mut done = Vec::with_capacity(run.len());
    let mut broken: Option<Broken> = None;
    for (op, reply) in run {
        if let Some(broken) = &broken {
            let _ = reply.send(Err(broken.error("running a write")));
            continue;
        }
        if let Err(e) = db.execute_batch(next_savepoint(*savepoint_open)) {
            let cause = Broken::from(e);
            let _ = reply.send(Err(cause.error("starting a write")));
            broken = Some(cause);
            continue;
        }
        *savepoint_open = true;
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| op(db)));
        match outcome.unwrap_or_else(|_| Err(panicked())) {
            Ok(written) => done.push((reply, written)),
            Err(error) => {
                if let Err(e) = db.execute_batch("ROLLBACK TO job") {
                    broken = Some(Broken::from(e));
                }
                let _ = reply.send(Err(error));
            }
        }
    }
    (done, broken)
}

/// The statements that start a job's savepoint: the previous job's is released in the same
/// round trip.
fn next_savepoint(savepoint_open: bool) -> &'static str {
    if savepoint_open {
        "RELEASE job; SAVEPOINT job"
    } else {
        "SAVEPOINT job"
    }
}

fn panicked() -> StoreError {
    StoreError::backend("running a write", "the operation panicked")
}

/// Why a group transaction failed, kept to answer every job of the group: the backend's
/// words, and whether the disk is full (each job then gets [`StoreError::StorageFull`], which
/// the protocols answer as such).
struct Broken {
    detail: String,
    full: bool,
}

impl From<sqlx::Error> for Broken {
    fn from(error: sqlx::Error) -> Broken {
        Broken {
            full: crate::error::sqlx_is_full(&error),
            detail: error.to_string(),
        }
    }
}

impl From<rusqlite::Error> for Broken {
    fn from(error: rusqlite::Error) -> Broken {
        Broken {
            full: crate::error::rusqlite_is_full(&error),
            detail: error.to_string(),
        }
    }
}

impl Broken {
    /// The error a job of the group gets, saying what the store was doing.
    fn error(&self, context: &'static str) -> StoreError {
        if self.full {
            StoreError::StorageFull {
                context: context.to_string(),
            }
        } else {
            StoreError::backend(context, &self.detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteJournalMode;

    use super::*;
    use crate::FsBlobStore;

    fn collect_nothing<'c>(
        _: &'c mut SqliteConnection,
        _: &'c Arc<dyn BlobStore>,
    ) -> BoxFuture<'c, Result<Vec<i64>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    async fn writer(dir: &std::path::Path) -> (Writer, SqliteConnectOptions) {
        let options = SqliteConnectOptions::new()
            .filename(dir.join("w.sqlite3"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let conn = options.clone().connect().await.expect("connect");
        let checkpoint = options.clone().connect().await.expect("connect");
        let blobs: Arc<dyn BlobStore> =
            Arc::new(FsBlobStore::open(&dir.join("blobs")).expect("blobs"));
        let writer = Writer::start(
            conn,
            checkpoint,
            options.clone(),
            Events::new(),
            blobs,
            collect_nothing,
            Arc::new(Signal::default()),
        );
        (writer, options)
    }

    fn insert_direct(db: &rusqlite::Connection, n: i64) -> Result<(), StoreError> {
        db.execute("INSERT INTO t (n) VALUES (?1)", [n])
            .map(drop)
            .map_err(|e| StoreError::backend("test insert", e))
    }

    /// Direct jobs and sqlx jobs in one group transaction: a direct job that fails after
    /// writing, or panics, is undone alone (its savepoint); every other job commits, and the
    /// writer goes on.
    #[tokio::test]
    async fn a_failing_direct_job_is_undone_alone_in_its_group() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (writer, options) = writer(dir.path()).await;
        writer
            .write(|conn| {
                Box::pin(async move {
                    sqlx::query("CREATE TABLE t (n INTEGER NOT NULL)")
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| StoreError::backend("test", e))?;
                    Ok(Written::value(()))
                })
            })
            .await
            .expect("create");

        // A first job holds the writer until the others are queued, so that they are all
        // taken into the next group transaction together.
        let (release, held) = oneshot::channel::<()>();
        let (running, started) = oneshot::channel::<()>();
        let holder = writer.write(|_conn| {
            Box::pin(async move {
                let _ = running.send(());
                let _ = held.await;
                Ok(Written::value(()))
            })
        });
        let jobs = async {
            started.await.expect("the holder runs");
            let sqlx_job = writer.write(|conn| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (n) VALUES (4)")
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| StoreError::backend("test", e))?;
                    Ok(Written::value(4))
                })
            });
            let queued = async {
                while QUEUE - writer.sender.capacity() < 5 {
                    tokio::task::yield_now().await;
                }
                let _ = release.send(());
            };
            let (ok1, failed, panicked, ok4, ok5, ()) = tokio::join!(
                writer.write_direct(|db| insert_direct(db, 1).map(|()| Written::value(1))),
                writer.write_direct(|db| -> Result<Written<i64>, StoreError> {
                    insert_direct(db, 2)?;
                    Err(StoreError::Refused("refused after writing".to_owned()))
                }),
                writer.write_direct(|db| -> Result<Written<i64>, StoreError> {
                    insert_direct(db, 3)?;
                    panic!("a bug in a job")
                }),
                sqlx_job,
                writer.write_direct(|db| insert_direct(db, 5).map(|()| Written::value(5))),
                queued,
            );
            (ok1, failed, panicked, ok4, ok5)
        };
        let (held, (ok1, failed, panicked, ok4, ok5)) = tokio::join!(holder, jobs);
        held.expect("holder");
        assert_eq!(ok1.expect("first direct job"), 1);
        assert!(matches!(failed, Err(StoreError::Refused(_))), "{failed:?}");
        assert!(panicked.is_err());
        assert_eq!(ok4.expect("sqlx job"), 4);
        assert_eq!(ok5.expect("last direct job"), 5);

        let mut reader = options.connect().await.expect("connect");
        let rows: Vec<i64> = sqlx::query_scalar("SELECT n FROM t ORDER BY n")
            .fetch_all(&mut reader)
            .await
            .expect("select");
        assert_eq!(rows, [1, 4, 5]);
        reader.close().await.expect("close");
        writer.close().await;
    }
}
