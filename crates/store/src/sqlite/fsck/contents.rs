//! Message contents against their bytes: every content a message references must be readable
//! (an inline body, or a blob file of the recorded size and, with [`Depth::Deep`], the right
//! SHA-256), and every content nothing references must be on its way to collection.
//!
//! Lost bytes are not repairable: the findings name each message concerned (mailbox, folder,
//! UID) so a person can restore the file from a backup; the rows stay, since deleting them
//! would hide the loss from the user. A content left uncollected by a crash is collected by
//! the same code as the server's collector ([`super::super::contents::collect_garbage`]).

use std::collections::BTreeSet;

use sqlx::Connection;

use super::Fsck;
use super::files::{blob_path, file_size};
use crate::error::Context;
use crate::fsck::{Check, Depth};
use crate::{BlobId, StoreError};

/// A content some message references.
struct Referenced {
    id: i64,
    hash: String,
    size: i64,
    /// The length of its inline body; `None` if it has none (its bytes are a blob file).
    body_len: Option<i64>,
}

/// Every referenced content readable and of the right size (and hash, when deep).
pub(super) async fn check_references(fsck: &mut Fsck) -> Result<(), StoreError> {
    let rows: Vec<(i64, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT c.id, c.hash, c.size, length(b.body) AS body_len FROM contents c \
         LEFT JOIN content_bodies b ON b.content_id = c.id \
         WHERE EXISTS (SELECT 1 FROM messages m WHERE m.content_id = c.id) ORDER BY c.id",
    )
    .fetch_all(&mut fsck.conn)
    .await
    .ctx("listing the message contents")?;
    let contents = rows
        .into_iter()
        .map(|(id, hash, size, body_len)| Referenced {
            id,
            hash,
            size,
            body_len,
        });
    for content in contents {
        let problem = match content.body_len {
            Some(len) => inline_problem(fsck, &content, len).await?,
            None => file_problem(fsck, &content).await?,
        };
        if let Some(problem) = problem {
            report_messages(fsck, &content, &problem).await?;
        }
    }
    Ok(())
}

async fn inline_problem(
    fsck: &mut Fsck,
    content: &Referenced,
    len: i64,
) -> Result<Option<String>, StoreError> {
    if len != content.size {
        return Ok(Some(format!(
            "its inline body is {len} octets, but {} were stored",
            content.size
        )));
    }
    if fsck.depth == Depth::Deep {
        let body: Vec<u8> =
            sqlx::query_scalar("SELECT body FROM content_bodies WHERE content_id = ?1")
                .bind(content.id)
                .fetch_one(&mut fsck.conn)
                .await
                .ctx("reading an inline content")?;
        if BlobId::of(&body).as_str() != content.hash {
            return Ok(Some(
                "its inline body does not match its SHA-256".to_owned(),
            ));
        }
    }
    Ok(None)
}

async fn file_problem(fsck: &mut Fsck, content: &Referenced) -> Result<Option<String>, StoreError> {
    let Some(id) = BlobId::parse(&content.hash) else {
        return Ok(Some(format!(
            "its blob id {:?} is not a SHA-256, so it has no file",
            content.hash
        )));
    };
    let path = blob_path(&fsck.blob_root(), &id);
    match file_size(&path)? {
        None if still_needs_file(fsck, content.id).await? => Ok(Some(format!(
            "it has neither a blob file ({}) nor an inline body: the message cannot be read",
            path.display()
        ))),
        // Expunged and collected meanwhile by a server sharing the folder.
        None => Ok(None),
        Some(len) if i64::try_from(len).ok() != Some(content.size) => Ok(Some(format!(
            "its blob file {} is {len} octets, but {} were stored",
            path.display(),
            content.size
        ))),
        Some(_) if fsck.depth == Depth::Deep => {
            let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
            Ok((BlobId::of(&bytes) != id).then(|| {
                format!(
                    "its blob file {} does not match its SHA-256",
                    path.display()
                )
            }))
        }
        Some(_) => Ok(None),
    }
}

/// Whether content `id` is still referenced and still without an inline body: the listing is
/// a snapshot, and a server sharing the folder may have collected it since.
async fn still_needs_file(fsck: &mut Fsck, id: i64) -> Result<bool, StoreError> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE content_id = ?1) \
         AND NOT EXISTS (SELECT 1 FROM content_bodies WHERE content_id = ?1)",
    )
    .bind(id)
    .fetch_one(&mut fsck.conn)
    .await
    .ctx("checking a message content")
}

/// One finding per message that has this broken content: what a person must restore.
async fn report_messages(
    fsck: &mut Fsck,
    content: &Referenced,
    problem: &str,
) -> Result<(), StoreError> {
    let messages: Vec<(String, i64)> = sqlx::query_as(
        "SELECT COALESCE(a.address, 'mailbox ' || f.mailbox_id) || '/' || f.name, m.uid \
         FROM messages m JOIN folders f ON f.id = m.folder_id \
         LEFT JOIN addresses a ON a.id = f.mailbox_id \
         WHERE m.content_id = ?1 ORDER BY f.id, m.uid",
    )
    .bind(content.id)
    .fetch_all(&mut fsck.conn)
    .await
    .ctx("listing the messages of a content")?;
    for (folder, uid) in messages {
        fsck.found(
            Check::Contents,
            format!("{folder} UID {uid}"),
            format!("content {}: {problem}", content.hash),
        );
    }
    Ok(())
}

/// Contents no message references and that are not queued for collection (`content_gc`):
/// nothing would ever remove them. Contents that are queued are not problems: the server
/// collects them after its next commit, or at its start.
pub(super) async fn check_uncollected(fsck: &mut Fsck) -> Result<(), StoreError> {
    const UNCOLLECTED: &str = "FROM contents c \
         WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.content_id = c.id) \
         AND NOT EXISTS (SELECT 1 FROM content_gc g WHERE g.content_id = c.id)";
    let leaked: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT c.id, c.hash {UNCOLLECTED} ORDER BY c.id"
    )))
    .fetch_all(&mut fsck.conn)
    .await
    .ctx("looking for uncollected contents")?;
    if leaked.is_empty() {
        return Ok(());
    }
    const PROBLEM: &str = "no message references this content and nothing would collect it";
    if !fsck.repairing() {
        for (_, hash) in leaked {
            fsck.found(Check::Contents, format!("content {hash}"), PROBLEM);
        }
        return Ok(());
    }
    const WHAT: &str = "queueing contents for collection";
    let mut tx = fsck.conn.begin_with("BEGIN IMMEDIATE").await.ctx(WHAT)?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT OR IGNORE INTO content_gc (content_id) SELECT c.id {UNCOLLECTED}"
    )))
    .execute(&mut *tx)
    .await
    .ctx(WHAT)?;
    tx.commit().await.ctx(WHAT)?;
    // Its own transactions, one per chunk, exactly as the server collects.
    let blobs = Fsck::blob_store(&fsck.blob_root())?;
    let collected: BTreeSet<i64> = super::super::contents::collect_garbage(&mut fsck.conn, &blobs)
        .await?
        .into_iter()
        .collect();
    for (id, hash) in leaked {
        let subject = format!("content {hash}");
        if collected.contains(&id) {
            fsck.repaired(Check::Contents, subject, format!("{PROBLEM}: collected"));
        } else {
            fsck.found(Check::Contents, subject, PROBLEM);
        }
    }
    Ok(())
}
