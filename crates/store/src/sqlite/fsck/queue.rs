//! The outbound queue against its rows and files: each queued message has at least one
//! recipient and its content file (of the recorded size; the right SHA-256 when deep).
//!
//! Leases are not checked: a lease left by a process that died simply expires and the message
//! is attempted again (migration 6), which is how the queue is meant to recover.
//!
//! A queued message without recipients is removed by a repair: nobody can receive it and no
//! report can name a recipient, so it would only sit in the queue forever. A message whose
//! content file is gone is reported, never removed: its sender may still be told, by a person.

use sqlx::Connection;

use super::Fsck;
use super::files::{blob_path, file_size};
use crate::error::Context;
use crate::fsck::{Check, Depth};
use crate::{BlobId, StoreError};

struct Queued {
    id: i64,
    blob: String,
    size: i64,
    return_path: String,
    recipients: i64,
}

/// Every queued message: recipients, then its content file.
pub(super) async fn check_messages(fsck: &mut Fsck) -> Result<(), StoreError> {
    let rows: Vec<(i64, String, i64, String, i64)> = sqlx::query_as(
        "SELECT q.id, q.blob, q.size, q.return_path, \
         (SELECT COUNT(*) FROM queue_recipients r WHERE r.message_id = q.id) AS recipients \
         FROM queue_messages q ORDER BY q.id",
    )
    .fetch_all(&mut fsck.conn)
    .await
    .ctx("listing the queue")?;
    let queued = rows
        .into_iter()
        .map(|(id, blob, size, return_path, recipients)| Queued {
            id,
            blob,
            size,
            return_path,
            recipients,
        });
    for message in queued {
        let subject = format!("queue {} from <{}>", message.id, message.return_path);
        if message.recipients == 0 {
            check_without_recipients(fsck, &message, subject).await?;
        } else if let Some(problem) = content_problem(fsck, &message).await? {
            fsck.found(Check::Queue, subject, problem);
        }
    }
    Ok(())
}

async fn check_without_recipients(
    fsck: &mut Fsck,
    message: &Queued,
    subject: String,
) -> Result<(), StoreError> {
    const PROBLEM: &str = "this queued message has no recipient, so it can never be delivered";
    if !fsck.repairing() {
        fsck.found(Check::Queue, subject, PROBLEM);
        return Ok(());
    }
    const WHAT: &str = "removing a queued message without recipients";
    let blobs = Fsck::blob_store(&fsck.queue_root())?;
    let mut tx = fsck.conn.begin_with("BEGIN IMMEDIATE").await.ctx(WHAT)?;
    let removed = sqlx::query(
        "DELETE FROM queue_messages WHERE id = ?1 \
         AND NOT EXISTS (SELECT 1 FROM queue_recipients WHERE message_id = ?1)",
    )
    .bind(message.id)
    .execute(&mut *tx)
    .await
    .ctx(WHAT)?
    .rows_affected()
        > 0;
    // Its content goes too unless another queued message shares it (as `dequeue` does),
    // under the same write lock.
    let shared: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM queue_messages WHERE blob = ?1)")
            .bind(&message.blob)
            .fetch_one(&mut *tx)
            .await
            .ctx(WHAT)?;
    if removed
        && !shared
        && let Some(id) = BlobId::parse(&message.blob)
    {
        blobs.remove(&id).await?;
    }
    tx.commit().await.ctx(WHAT)?;
    if removed {
        fsck.repaired(Check::Queue, subject, format!("{PROBLEM}: removed"));
    }
    Ok(())
}

/// What is wrong with the content file of `message`, if anything.
async fn content_problem(fsck: &mut Fsck, message: &Queued) -> Result<Option<String>, StoreError> {
    let Some(id) = BlobId::parse(&message.blob) else {
        return Ok(Some(format!(
            "its blob id {:?} is not a SHA-256, so it has no content file",
            message.blob
        )));
    };
    let path = blob_path(&fsck.queue_root(), &id);
    Ok(match file_size(&path)? {
        // Delivered and dequeued meanwhile by a server sharing the folder: the listing is a
        // snapshot.
        None if !still_queued(fsck, message.id).await? => None,
        None => Some(format!(
            "its content file {} is missing: it cannot be delivered; tell the sender, then \
             remove it with `postwerk admin queue delete {}`",
            path.display(),
            message.id
        )),
        Some(len) if i64::try_from(len).ok() != Some(message.size) => Some(format!(
            "its content file {} is {len} octets, but {} were queued",
            path.display(),
            message.size
        )),
        Some(_) if fsck.depth == Depth::Deep => {
            let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
            (BlobId::of(&bytes) != id).then(|| {
                format!(
                    "its content file {} does not match its SHA-256",
                    path.display()
                )
            })
        }
        Some(_) => None,
    })
}

async fn still_queued(fsck: &mut Fsck, id: i64) -> Result<bool, StoreError> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM queue_messages WHERE id = ?1)")
        .bind(id)
        .fetch_one(&mut fsck.conn)
        .await
        .ctx("checking a queued message")
}
