//! SQLite's own checks: the b-trees and indexes (`integrity_check`), and the references
//! between tables (`foreign_key_check`). Neither is repairable here: a damaged database file is
//! restored from a backup, or rebuilt with `sqlite3 .recover`, by a person.

use sqlx::Row;

use super::Fsck;
use crate::StoreError;
use crate::error::Context;
use crate::fsck::Check;

/// Every line `integrity_check` and `foreign_key_check` print, one finding each.
pub(super) async fn check(fsck: &mut Fsck) -> Result<(), StoreError> {
    let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut fsck.conn)
        .await
        .ctx("checking the database's integrity")?;
    for line in lines.into_iter().filter(|line| line != "ok") {
        fsck.found(Check::Database, "integrity_check", line);
    }
    let rows = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut fsck.conn)
        .await
        .ctx("checking the database's references")?;
    for row in rows {
        const WHAT: &str = "reading foreign_key_check";
        let table: String = row.try_get(0).ctx(WHAT)?;
        let rowid: Option<i64> = row.try_get(1).ctx(WHAT)?;
        let parent: String = row.try_get(2).ctx(WHAT)?;
        let rowid = rowid.map_or_else(|| "a row".to_owned(), |id| format!("row {id}"));
        fsck.found(
            Check::Database,
            format!("{table} {rowid}"),
            format!("it refers to a row of {parent} that does not exist"),
        );
    }
    Ok(())
}
