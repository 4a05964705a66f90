//! Group commit: the one task that writes to the database.
//!
//! ```text
//!  caller ─┐ Job{op, reply}                 ┌─► wake the full-text indexer (new contents)
//!  caller ─┼──► mpsc ──► writer task ───────┼─► reply (after COMMIT) ─► caller
//!  caller ─┘            BEGIN IMMEDIATE      └─► FolderEvents (after COMMIT)
//!                       SAVEPOINT / op / RELEASE   (one per job, up to MAX_BATCH)
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
//! statements travel to sqlx's connection thread and back one by one. The trigram full-text
//! index used to cost about as much as the rest of a 2 KB message's insert; it is now built
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
    /// The job stored new contents: wake the full-text indexer after the commit.
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

    /// Mark that the write stored new contents, which the full-text indexer must pick up.
    pub fn new_contents(mut self) -> Written<T> {
        self.indexable = true;
        self
    }
}

type AnyValue = Box<dyn Any + Send>;
type OpFn = Box<
    dyn for<'c> FnOnce(
            &'c mut SqliteConnection,
        ) -> BoxFuture<'c, Result<Written<AnyValue>, StoreError>>
        + Send,
>;

type Reply = oneshot::Sender<Result<AnyValue, StoreError>>;

struct Job {
    op: OpFn,
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
        let op: OpFn = Box::new(move |conn| {
            Box::pin(async move {
                op(conn).await.map(|w| Written {
                    value: Box::new(w.value) as AnyValue,
                    events: w.events,
                    garbage: w.garbage,
                    indexable: w.indexable,
                })
            })
        });
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
    for job in batch {
        if let Some(broken) = &broken {
            let _ = job.reply.send(Err(broken.error("running a write")));
            continue;
        }
        let mut savepoint = match Connection::begin(&mut *tx).await {
            Ok(savepoint) => savepoint,
            Err(e) => {
                let cause = Broken::from(e);
                let _ = job.reply.send(Err(cause.error("starting a write")));
                broken = Some(cause);
                continue;
            }
        };
        // A panic in one job must not take the writer (and every later write) down with it.
        let outcome = AssertUnwindSafe((job.op)(&mut savepoint))
            .catch_unwind()
            .await;
        let outcome = outcome.unwrap_or_else(|_| {
            Err(StoreError::backend(
                "running a write",
                "the operation panicked",
            ))
        });
        match outcome {
            Ok(written) => match savepoint.commit().await {
                Ok(()) => done.push((job.reply, written)),
                Err(e) => {
                    let cause = Broken::from(e);
                    let _ = job.reply.send(Err(cause.error("releasing a savepoint")));
                    broken = Some(cause);
                }
            },
            Err(error) => {
                if let Err(e) = savepoint.rollback().await {
                    // SQLite may have rolled the whole transaction back (disk full, I/O
                    // error): nothing of this batch can be trusted any more.
                    broken = Some(Broken::from(e));
                }
                let _ = job.reply.send(Err(error));
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
                signal.contents_stored();
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
