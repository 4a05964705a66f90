//! The outbound queue on SQLite: entries in `queue_messages`/`queue_recipients`, contents in
//! the queue's own blob folder. Writes go through the group-commit writer.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::writer::{Writer, Written};
use super::{int, now, parse};
use crate::error::Context;
use crate::{
    BlobId, BlobStore, DsnRet, NewQueued, Notify, QueueId, QueueStore, QueuedMessage,
    QueuedRecipient, StoreError,
};

/// The queue's blob folder inside the data folder.
pub const QUEUE_FOLDER: &str = "queue";

/// The SQLite implementation of [`QueueStore`].
#[derive(Debug)]
pub(crate) struct SqliteQueue {
    pub(crate) pool: SqlitePool,
    pub(crate) writer: Writer,
    pub(crate) blobs: Arc<dyn BlobStore>,
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

fn notify_text(notify: Option<Notify>) -> Option<String> {
    notify.map(|n| {
        [(n.success, 'S'), (n.failure, 'F'), (n.delay, 'D')]
            .into_iter()
            .filter_map(|(on, letter)| on.then_some(letter))
            .collect()
    })
}

fn notify_from(text: Option<String>) -> Option<Notify> {
    text.map(|t| Notify {
        success: t.contains('S'),
        failure: t.contains('F'),
        delay: t.contains('D'),
    })
}

fn recipient_from(row: &SqliteRow) -> Result<QueuedRecipient, StoreError> {
    const WHAT: &str = "reading a queued recipient";
    let address: String = row.try_get("address").ctx(WHAT)?;
    let forwarded_by: Option<String> = row.try_get("forwarded_by").ctx(WHAT)?;
    Ok(QueuedRecipient {
        address: parse(&address, WHAT)?,
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
         submitted_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
    )
    .bind(blob.as_str())
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .bind(&message.return_path)
    .bind(&message.envid)
    .bind(ret_text(message.ret))
    .bind(message.received_at)
    .bind(message.submitted_by.map(|id| id.0))
    .bind(now())
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

#[async_trait]
impl QueueStore for SqliteQueue {
    async fn enqueue(&self, raw: &[u8], message: NewQueued) -> Result<QueueId, StoreError> {
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
            let id = self
                .writer
                .write(move |conn| {
                    Box::pin(async move {
                        // Queue blobs are removed only under the write lock (`dequeue`): if
                        // the file is here now, it stays. A dequeue of identical content may
                        // have removed it since our put: then put it again.
                        if !blobs.exists(&blob).await? {
                            return Ok(Written::value(None));
                        }
                        insert(conn, &blob, size, &message)
                            .await
                            .map(|id| Written::value(Some(id)))
                    })
                })
                .await?;
            if let Some(id) = id {
                return Ok(id);
            }
        }
        Err(StoreError::backend(
            "queueing a message",
            "its content kept being removed by concurrent dequeues",
        ))
    }

    async fn queued(&self) -> Result<Vec<QueuedMessage>, StoreError> {
        const WHAT: &str = "listing the queue";
        let rows = sqlx::query(
            "SELECT id, blob, size, return_path, envid, ret, received_at, submitted_by \
             FROM queue_messages ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx(WHAT)?;
        let recipients = sqlx::query(
            "SELECT message_id, address, notify, orcpt, forwarded_by FROM queue_recipients \
             ORDER BY message_id, position",
        )
        .fetch_all(&self.pool)
        .await
        .ctx(WHAT)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("id").ctx(WHAT)?;
            let blob: String = row.try_get("blob").ctx(WHAT)?;
            let blob = BlobId::parse(&blob)
                .ok_or_else(|| StoreError::backend(WHAT, format!("bad blob id {blob:?}")))?;
            let mut rcpts = Vec::new();
            for r in recipients.iter() {
                let message_id: i64 = r.try_get("message_id").ctx(WHAT)?;
                if message_id == id {
                    rcpts.push(recipient_from(r)?);
                }
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
                },
            });
        }
        Ok(out)
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
