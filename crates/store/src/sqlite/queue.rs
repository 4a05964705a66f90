//! The outbound queue on SQLite: entries in `queue_messages`/`queue_recipients`, contents in
//! the queue's own blob folder. Writes go through the group-commit writer.

use std::sync::Arc;

use async_trait::async_trait;
use postwerk_model::EnvelopeAddress;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::writer::{Writer, Written};
use super::{int, now, parse};
use crate::error::Context;
use tokio::sync::Notify;

use crate::queue::queue_fingerprint;
use crate::{
    BlobId, BlobStore, DsnRet, Fingerprint, NewQueued, QueueId, QueueStore, QueuedMessage,
    QueuedRecipient, RecipientState, RecipientStatus, StoreError,
};

/// The queue's blob folder inside the data folder.
pub const QUEUE_FOLDER: &str = "queue";

/// The SQLite implementation of [`QueueStore`].
#[derive(Debug)]
pub(crate) struct SqliteQueue {
    pub(crate) pool: SqlitePool,
    pub(crate) writer: Writer,
    pub(crate) blobs: Arc<dyn BlobStore>,
    /// Woken after enqueues and retries (see [`QueueStore::changed`]).
    pub(crate) changed: Arc<Notify>,
}

fn ret_text(ret: Option<DsnRet>) -> Option<&'static str> {
    ret.map(|ret| match ret {
        DsnRet::Full => "FULL",
        DsnRet::Headers => "HDRS",
    })
}

fn ret_from(text: Option<String>) -> Result<Option<DsnRet>, StoreError> {
    match text.as_deref() {
        None => Ok(None),
        Some("FULL") => Ok(Some(DsnRet::Full)),
        Some("HDRS") => Ok(Some(DsnRet::Headers)),
        Some(other) => Err(StoreError::backend(
            "reading a queued message",
            format!("unknown RET {other:?}"),
        )),
    }
}

fn notify_text(notify: Option<crate::Notify>) -> Option<String> {
    notify.map(|n| {
        [(n.success, 'S'), (n.failure, 'F'), (n.delay, 'D')]
            .into_iter()
            .filter_map(|(on, letter)| on.then_some(letter))
            .collect()
    })
}

fn notify_from(text: Option<String>) -> Option<crate::Notify> {
    text.map(|t| crate::Notify {
        success: t.contains('S'),
        failure: t.contains('F'),
        delay: t.contains('D'),
    })
}

fn status_text(status: RecipientStatus) -> &'static str {
    match status {
        RecipientStatus::Pending => "pending",
        RecipientStatus::Delivered => "delivered",
        RecipientStatus::Failed => "failed",
    }
}

fn state_from(row: &SqliteRow) -> Result<RecipientState, StoreError> {
    const WHAT: &str = "reading a queued recipient's state";
    let status: String = row.try_get("status").ctx(WHAT)?;
    let status = match status.as_str() {
        "pending" => RecipientStatus::Pending,
        "delivered" => RecipientStatus::Delivered,
        "failed" => RecipientStatus::Failed,
        other => {
            return Err(StoreError::backend(
                WHAT,
                format!("unknown status {other:?}"),
            ));
        }
    };
    Ok(RecipientState {
        status,
        attempts: int(row.try_get::<i64, _>("attempts").ctx(WHAT)?, WHAT)?,
        next_attempt_at: row.try_get("next_attempt_at").ctx(WHAT)?,
        last_attempt_at: row.try_get("last_attempt_at").ctx(WHAT)?,
        last_status: row.try_get("last_status").ctx(WHAT)?,
        diagnostic: row.try_get("diagnostic").ctx(WHAT)?,
        remote_mta: row.try_get("remote_mta").ctx(WHAT)?,
        delay_notified: row.try_get::<i64, _>("delay_notified").ctx(WHAT)? != 0,
    })
}

/// The columns `message_from` reads, from `queue_messages`.
const MESSAGE_COLUMNS: &str =
    "id, blob, size, return_path, envid, ret, received_at, submitted_by, leased_until, held";

/// The columns `recipient_from` and `state_from` read, from `queue_recipients`.
const RECIPIENT_COLUMNS: &str = "message_id, address, notify, orcpt, forwarded_by, status, \
     attempts, next_attempt_at, last_attempt_at, last_status, diagnostic, remote_mta, \
     delay_notified";

/// Builds messages from their rows and the rows of their recipients (both ordered by message
/// id, recipients by position within it).
fn messages_from(
    rows: Vec<SqliteRow>,
    recipients: Vec<SqliteRow>,
) -> Result<Vec<QueuedMessage>, StoreError> {
    const WHAT: &str = "reading a queued message";
    let mut recipients = recipients.into_iter().peekable();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get("id").ctx(WHAT)?;
        let blob: String = row.try_get("blob").ctx(WHAT)?;
        let blob = BlobId::parse(&blob)
            .ok_or_else(|| StoreError::backend(WHAT, format!("bad blob id {blob:?}")))?;
        let mut rcpts = Vec::new();
        let mut states = Vec::new();
        while let Some(r) = recipients.peek() {
            let message_id: i64 = r.try_get("message_id").ctx(WHAT)?;
            if message_id < id {
                recipients.next();
                continue;
            }
            if message_id > id {
                break;
            }
            rcpts.push(recipient_from(r)?);
            states.push(state_from(r)?);
            recipients.next();
        }
        let submitted_by: Option<i64> = row.try_get("submitted_by").ctx(WHAT)?;
        out.push(QueuedMessage {
            id: QueueId(id),
            blob,
            size: int(row.try_get::<i64, _>("size").ctx(WHAT)?, WHAT)?,
            message: NewQueued {
                return_path: row.try_get("return_path").ctx(WHAT)?,
                recipients: rcpts,
                envid: row.try_get("envid").ctx(WHAT)?,
                ret: ret_from(row.try_get("ret").ctx(WHAT)?)?,
                received_at: row.try_get("received_at").ctx(WHAT)?,
                submitted_by: submitted_by.map(postwerk_model::AddressId),
                held: row.try_get("held").ctx(WHAT)?,
            },
            states,
            leased_until: row.try_get("leased_until").ctx(WHAT)?,
        });
    }
    Ok(out)
}

/// The messages with these ids (all, when `ids` is `None`), oldest first.
async fn load(
    conn: &mut SqliteConnection,
    ids: Option<&[i64]>,
) -> Result<Vec<QueuedMessage>, StoreError> {
    const WHAT: &str = "listing the queue";
    // Ids are integers formatted here, never text from outside.
    let within = |column: &str| match ids {
        Some(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!("WHERE {column} IN ({})", list.join(","))
        }
        None => String::new(),
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM queue_messages {} ORDER BY id",
        within("id")
    )))
    .fetch_all(&mut *conn)
    .await
    .ctx(WHAT)?;
    let recipients = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {RECIPIENT_COLUMNS} FROM queue_recipients {} ORDER BY message_id, position",
        within("message_id")
    )))
    .fetch_all(&mut *conn)
    .await
    .ctx(WHAT)?;
    messages_from(rows, recipients)
}

fn recipient_from(row: &SqliteRow) -> Result<QueuedRecipient, StoreError> {
    const WHAT: &str = "reading a queued recipient";
    let address: String = row.try_get("address").ctx(WHAT)?;
    let forwarded_by: Option<String> = row.try_get("forwarded_by").ctx(WHAT)?;
    Ok(QueuedRecipient {
        // Rows written before SMTPUTF8 hold ASCII Dot-strings, which read back as the same
        // text, so the fingerprints of `enqueue_once` do not change.
        address: parse::<EnvelopeAddress>(&address, WHAT)?,
        notify: notify_from(row.try_get("notify").ctx(WHAT)?),
        orcpt: row.try_get("orcpt").ctx(WHAT)?,
        forwarded_by: forwarded_by.map(|f| parse(&f, WHAT)).transpose()?,
    })
}

/// Attempts to queue a message whose content a concurrent dequeue removed meanwhile.
const STORE_ATTEMPTS: usize = 3;

async fn insert(
    conn: &mut SqliteConnection,
    blob: &BlobId,
    size: u64,
    message: &NewQueued,
) -> Result<QueueId, StoreError> {
    const WHAT: &str = "queueing a message";
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO queue_messages (blob, size, return_path, envid, ret, received_at, \
         submitted_by, created_at, held) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         RETURNING id",
    )
    .bind(blob.as_str())
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .bind(&message.return_path)
    .bind(&message.envid)
    .bind(ret_text(message.ret))
    .bind(message.received_at)
    .bind(message.submitted_by.map(|id| id.0))
    .bind(now())
    .bind(&message.held)
    .fetch_one(&mut *conn)
    .await
    .ctx(WHAT)?;
    for (position, rcpt) in message.recipients.iter().enumerate() {
        sqlx::query(
            "INSERT INTO queue_recipients (message_id, position, address, notify, orcpt, \
             forwarded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(rcpt.address.to_string())
        .bind(notify_text(rcpt.notify))
        .bind(&rcpt.orcpt)
        .bind(rcpt.forwarded_by.as_ref().map(ToString::to_string))
        .execute(&mut *conn)
        .await
        .ctx(WHAT)?;
    }
    Ok(QueueId(id))
}

/// What [`SqliteQueue::put_and_insert`] keys an entry by, for `enqueue_once`: the combined
/// fingerprint and the start of the window.
#[derive(Clone, Copy)]
struct Once {
    key: [u8; 32],
    since: i64,
}

/// The first entry queued with `once.key` within the window, forgetting older fingerprints
/// first (an index range that is empty almost every time, so the table stays the size of the
/// window's enqueues).
async fn queued_before(
    conn: &mut SqliteConnection,
    once: Once,
) -> Result<Option<QueueId>, StoreError> {
    const WHAT: &str = "looking for an earlier copy of the same message in the queue";
    sqlx::query("DELETE FROM queue_fingerprints WHERE queued_at < ?1")
        .bind(once.since)
        .execute(&mut *conn)
        .await
        .ctx(WHAT)?;
    let id: Option<i64> =
        sqlx::query_scalar("SELECT queue_id FROM queue_fingerprints WHERE fingerprint = ?1")
            .bind(&once.key[..])
            .fetch_optional(&mut *conn)
            .await
            .ctx(WHAT)?;
    Ok(id.map(QueueId))
}

/// Records that the entry `id` queued the message of `once`, in the entry's transaction.
async fn remember(
    conn: &mut SqliteConnection,
    once: Once,
    id: QueueId,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO queue_fingerprints (fingerprint, queue_id, queued_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (fingerprint) DO UPDATE SET queue_id = ?2, queued_at = ?3",
    )
    .bind(&once.key[..])
    .bind(id.0)
    .bind(at)
    .execute(&mut *conn)
    .await
    .ctx("recording a queued message's fingerprint")?;
    Ok(())
}

/// How an enqueue ended.
#[derive(Clone, Copy)]
enum Enqueued {
    /// A new entry.
    New(QueueId),
    /// The message was queued before, as this entry: nothing was added.
    Again(QueueId),
}

impl SqliteQueue {
    /// Queues `message` (refused without recipients); with `once`, not again when a message
    /// of the same fingerprint was queued within the window.
    async fn put_and_insert(
        &self,
        raw: &[u8],
        message: NewQueued,
        once: Option<Once>,
    ) -> Result<QueueId, StoreError> {
        if message.recipients.is_empty() {
            return Err(StoreError::Refused(
                "a queued message needs at least one recipient".into(),
            ));
        }
        let message = Arc::new(message);
        for _ in 0..STORE_ATTEMPTS {
            // RCV-12: the content is on stable storage before the entry that names it commits.
            let blob = self.blobs.put(raw).await?;
            let size = raw.len() as u64;
            let blobs = self.blobs.clone();
            let message = message.clone();
            let outcome = self
                .writer
                .write(move |conn| {
                    Box::pin(async move {
                        // Queue blobs are removed only under the write lock (`dequeue`): if
                        // the file is here now, it stays. A dequeue of identical content may
                        // have removed it since our put: then put it again.
                        if !blobs.exists(&blob).await? {
                            return Ok(Written::value(None));
                        }
                        if let Some(once) = once
                            && let Some(first) = queued_before(conn, once).await?
                        {
                            // The retry's copy differs from the first in its trace lines, so
                            // its file is usually new: remove it unless an entry shares it
                            // (under the write lock, as in `dequeue`).
                            if !blob_in_use(conn, &blob).await? {
                                blobs.remove(&blob).await?;
                            }
                            return Ok(Written::value(Some(Enqueued::Again(first))));
                        }
                        let id = insert(conn, &blob, size, &message).await?;
                        if let Some(once) = once {
                            remember(conn, once, id, message.received_at).await?;
                        }
                        Ok(Written::value(Some(Enqueued::New(id))))
                    })
                })
                .await?;
            match outcome {
                Some(Enqueued::New(id)) => {
                    self.changed.notify_waiters();
                    return Ok(id);
                }
                Some(Enqueued::Again(id)) => {
                    tracing::info!(queue_id = %id, "a message queued before was sent again; not queued twice");
                    return Ok(id);
                }
                None => {}
            }
        }
        Err(StoreError::backend(
            "queueing a message",
            "its content kept being removed by concurrent dequeues",
        ))
    }
}

/// Whether a queued entry names the content file `blob`.
async fn blob_in_use(conn: &mut SqliteConnection, blob: &BlobId) -> Result<bool, StoreError> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM queue_messages WHERE blob = ?1)")
        .bind(blob.as_str())
        .fetch_one(&mut *conn)
        .await
        .ctx("looking for queued messages that share a content")
}

#[async_trait]
impl QueueStore for SqliteQueue {
    async fn enqueue(&self, raw: &[u8], message: NewQueued) -> Result<QueueId, StoreError> {
        self.put_and_insert(raw, message, None).await
    }

    async fn enqueue_once(
        &self,
        raw: &[u8],
        message: NewQueued,
        fingerprint: Fingerprint,
    ) -> Result<QueueId, StoreError> {
        let once = Once {
            key: queue_fingerprint(&fingerprint.digest, &message.recipients),
            since: fingerprint.since,
        };
        self.put_and_insert(raw, message, Some(once)).await
    }

    async fn queued(&self) -> Result<Vec<QueuedMessage>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("listing the queue")?;
        load(&mut conn, None).await
    }

    async fn queued_message(&self, id: QueueId) -> Result<QueuedMessage, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("reading a queued message")?;
        load(&mut conn, Some(&[id.0]))
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("no queued message {id}")))
    }

    async fn lease_due(
        &self,
        now: i64,
        lease_secs: i64,
        limit: usize,
    ) -> Result<Vec<QueuedMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    const WHAT: &str = "leasing due queued messages";
                    let ids: Vec<i64> = sqlx::query_scalar(
                        "SELECT m.id FROM queue_messages m \
                         JOIN queue_recipients r ON r.message_id = m.id \
                         WHERE r.status = 'pending' AND r.next_attempt_at <= ?1 \
                           AND m.leased_until <= ?1 AND m.held IS NULL \
                         GROUP BY m.id ORDER BY MIN(r.next_attempt_at), m.id LIMIT ?2",
                    )
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *conn)
                    .await
                    .ctx(WHAT)?;
                    if ids.is_empty() {
                        return Ok(Written::value(Vec::new()));
                    }
                    for id in &ids {
                        sqlx::query("UPDATE queue_messages SET leased_until = ?1 WHERE id = ?2")
                            .bind(now.saturating_add(lease_secs))
                            .bind(id)
                            .execute(&mut *conn)
                            .await
                            .ctx(WHAT)?;
                    }
                    load(conn, Some(&ids)).await.map(Written::value)
                })
            })
            .await
    }

    async fn record_attempt(
        &self,
        id: QueueId,
        states: Vec<(usize, RecipientState)>,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    const WHAT: &str = "recording a delivery attempt";
                    let found =
                        sqlx::query("UPDATE queue_messages SET leased_until = 0 WHERE id = ?1")
                            .bind(id.0)
                            .execute(&mut *conn)
                            .await
                            .ctx(WHAT)?
                            .rows_affected();
                    if found == 0 {
                        return Err(StoreError::NotFound(format!("no queued message {id}")));
                    }
                    for (position, state) in &states {
                        sqlx::query(
                            "UPDATE queue_recipients SET status = ?3, attempts = ?4, \
                             next_attempt_at = ?5, last_attempt_at = ?6, last_status = ?7, \
                             diagnostic = ?8, remote_mta = ?9, delay_notified = ?10 \
                             WHERE message_id = ?1 AND position = ?2",
                        )
                        .bind(id.0)
                        .bind(i64::try_from(*position).unwrap_or(i64::MAX))
                        .bind(status_text(state.status))
                        .bind(i64::from(state.attempts))
                        .bind(state.next_attempt_at)
                        .bind(state.last_attempt_at)
                        .bind(&state.last_status)
                        .bind(&state.diagnostic)
                        .bind(&state.remote_mta)
                        .bind(i64::from(state.delay_notified))
                        .execute(&mut *conn)
                        .await
                        .ctx(WHAT)?;
                    }
                    Ok(Written::value(()))
                })
            })
            .await
    }

    async fn release_leases(&self) -> Result<u64, StoreError> {
        self.writer
            .write(|conn| {
                Box::pin(async move {
                    sqlx::query("UPDATE queue_messages SET leased_until = 0 WHERE leased_until > 0")
                        .execute(&mut *conn)
                        .await
                        .ctx("releasing queue leases")
                        .map(|done| Written::value(done.rows_affected()))
                })
            })
            .await
    }

    async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT MIN(MAX(r.next_attempt_at, m.leased_until)) FROM queue_recipients r \
             JOIN queue_messages m ON m.id = r.message_id \
             WHERE r.status = 'pending' AND m.held IS NULL",
        )
        .fetch_one(&self.pool)
        .await
        .ctx("reading the queue's next due time")
    }

    async fn retry_now(&self, id: QueueId, now: i64) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    const WHAT: &str = "retrying a queued message";
                    let found =
                        sqlx::query("UPDATE queue_messages SET leased_until = 0 WHERE id = ?1")
                            .bind(id.0)
                            .execute(&mut *conn)
                            .await
                            .ctx(WHAT)?
                            .rows_affected();
                    if found == 0 {
                        return Err(StoreError::NotFound(format!("no queued message {id}")));
                    }
                    sqlx::query(
                        "UPDATE queue_recipients SET next_attempt_at = ?2 \
                         WHERE message_id = ?1 AND status = 'pending'",
                    )
                    .bind(id.0)
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .ctx(WHAT)?;
                    Ok(Written::value(()))
                })
            })
            .await?;
        self.changed.notify_waiters();
        Ok(())
    }

    fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    async fn read_queued(&self, id: QueueId) -> Result<Vec<u8>, StoreError> {
        let blob: Option<String> =
            sqlx::query_scalar("SELECT blob FROM queue_messages WHERE id = ?1")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .ctx("reading a queued message")?;
        let blob = blob.ok_or_else(|| StoreError::NotFound(format!("no queued message {id}")))?;
        let blob = BlobId::parse(&blob).ok_or_else(|| {
            StoreError::backend("reading a queued message", format!("bad blob id {blob:?}"))
        })?;
        self.blobs.read(&blob).await
    }

    async fn dequeue(&self, id: QueueId) -> Result<(), StoreError> {
        let blobs = self.blobs.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    const WHAT: &str = "removing a queued message";
                    let blob: Option<String> = sqlx::query_scalar(
                        "DELETE FROM queue_messages WHERE id = ?1 RETURNING blob",
                    )
                    .bind(id.0)
                    .fetch_optional(&mut *conn)
                    .await
                    .ctx(WHAT)?;
                    let blob = blob
                        .ok_or_else(|| StoreError::NotFound(format!("no queued message {id}")))?;
                    let still_used: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM queue_messages WHERE blob = ?1)",
                    )
                    .bind(&blob)
                    .fetch_one(&mut *conn)
                    .await
                    .ctx(WHAT)?;
                    if !still_used && let Some(blob) = BlobId::parse(&blob) {
                        // Under the write lock: no enqueue of the same content can commit
                        // between this check and the removal (enqueue checks the file under
                        // the same lock). Should the commit fail afterwards, the entry stays
                        // without content; it was being removed anyway.
                        blobs.remove(&blob).await?;
                    }
                    Ok(Written::value(()))
                })
            })
            .await
    }
}
