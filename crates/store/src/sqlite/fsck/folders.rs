//! The counters of each folder against its messages: UIDs below UIDNEXT and unique (RFC 9051
//! §2.3.1.1), MODSEQs at most HIGHESTMODSEQ (RFC 7162 §3.1). The expunged UIDs of QRESYNC
//! count too: a UID once used is never handed out again.
//!
//! Raising a counter is the repair, and a safe one: counters only ever move forward, so a
//! client that cached the old values sees nothing it has not seen before (its next CONDSTORE
//! sync simply reports a higher HIGHESTMODSEQ).

use sqlx::Connection;

use super::Fsck;
use crate::StoreError;
use crate::error::Context;
use crate::fsck::Check;

/// How a folder is named in findings: its mailbox's address (or id, if the address is gone)
/// and its name.
const FOLDER_NAME: &str = "COALESCE(a.address, 'mailbox ' || f.mailbox_id) || '/' || f.name";

/// A folder whose counter is behind the highest value its rows use.
struct Behind {
    id: i64,
    name: String,
    counter: i64,
    highest_used: i64,
}

/// Folders whose `column` is not above (UIDs) or not at least (MODSEQs) what their messages
/// and expunged entries use.
async fn behind(
    fsck: &mut Fsck,
    column: &str,
    used: &str,
    comparison: &str,
) -> Result<Vec<Behind>, StoreError> {
    // Only names from this file are formatted into the statement.
    let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, counter, highest_used FROM ( \
           SELECT f.id, {FOLDER_NAME} AS name, f.{column} AS counter, MAX( \
             COALESCE((SELECT MAX({used}) FROM messages m WHERE m.folder_id = f.id), 0), \
             COALESCE((SELECT MAX({used}) FROM expunged e WHERE e.folder_id = f.id), 0) \
           ) AS highest_used \
           FROM folders f LEFT JOIN addresses a ON a.id = f.mailbox_id) \
         WHERE highest_used {comparison} counter ORDER BY id"
    )))
    .fetch_all(&mut fsck.conn)
    .await
    .ctx("checking the folders' counters")?;
    Ok(rows
        .into_iter()
        .map(|(id, name, counter, highest_used)| Behind {
            id,
            name,
            counter,
            highest_used,
        })
        .collect())
}

/// Set `column` of folder `id` to `value`, never lowering it, in a transaction of its own.
async fn raise(fsck: &mut Fsck, column: &str, id: i64, value: i64) -> Result<(), StoreError> {
    const WHAT: &str = "raising a folder's counter";
    let mut tx = fsck.conn.begin_with("BEGIN IMMEDIATE").await.ctx(WHAT)?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE folders SET {column} = ?2 WHERE id = ?1 AND {column} < ?2"
    )))
    .bind(id)
    .bind(value)
    .execute(&mut *tx)
    .await
    .ctx(WHAT)?;
    tx.commit().await.ctx(WHAT)
}

/// UIDs below UIDNEXT (repair: UIDNEXT one above the highest UID), at least 1, and unique
/// within their folder (not repairable: which message keeps the UID a client may have cached
/// is not ours to guess).
pub(super) async fn check_uids(fsck: &mut Fsck) -> Result<(), StoreError> {
    for folder in behind(fsck, "uid_next", "uid", ">=").await? {
        let problem = format!(
            "UIDNEXT is {} but UID {} is in use",
            folder.counter, folder.highest_used
        );
        if fsck.repairing() {
            let next = folder.highest_used.saturating_add(1);
            raise(fsck, "uid_next", folder.id, next).await?;
            fsck.repaired(
                Check::Uids,
                folder.name,
                format!("{problem}: UIDNEXT raised to {next}"),
            );
        } else {
            fsck.found(Check::Uids, folder.name, problem);
        }
    }
    let duplicates: Vec<(String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FOLDER_NAME}, m.uid, COUNT(*) FROM messages m \
         JOIN folders f ON f.id = m.folder_id LEFT JOIN addresses a ON a.id = f.mailbox_id \
         GROUP BY m.folder_id, m.uid HAVING COUNT(*) > 1 OR m.uid < 1 ORDER BY m.folder_id, m.uid"
    )))
    .fetch_all(&mut fsck.conn)
    .await
    .ctx("checking the UIDs")?;
    for (folder, uid, count) in duplicates {
        let problem = if uid < 1 {
            "a UID must be 1 or more".to_owned()
        } else {
            format!("{count} messages share this UID")
        };
        fsck.found(Check::Uids, format!("{folder} UID {uid}"), problem);
    }
    Ok(())
}

/// MODSEQs of messages and expunged entries at most the folder's HIGHESTMODSEQ (repair:
/// HIGHESTMODSEQ raised to the highest in use).
pub(super) async fn check_modseqs(fsck: &mut Fsck) -> Result<(), StoreError> {
    for folder in behind(fsck, "highest_modseq", "modseq", ">").await? {
        let problem = format!(
            "HIGHESTMODSEQ is {} but MODSEQ {} is in use",
            folder.counter, folder.highest_used
        );
        if fsck.repairing() {
            raise(fsck, "highest_modseq", folder.id, folder.highest_used).await?;
            fsck.repaired(
                Check::Modseqs,
                folder.name,
                format!("{problem}: HIGHESTMODSEQ raised to {}", folder.highest_used),
            );
        } else {
            fsck.found(Check::Modseqs, folder.name, problem);
        }
    }
    Ok(())
}
