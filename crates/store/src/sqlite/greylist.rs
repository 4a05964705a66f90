//! Greylisting's memory on SQLite (RCV-3): the `greylist` table. Reads use the read pool;
//! writes go through the group-commit writer, and a known triplet is written at most once a
//! day, so accepted mail costs a read rather than an fsync.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::writer::{Writer, Written};
use crate::error::Context;
use crate::{GreylistEntry, GreylistStore, StoreError};

/// How stale `last_seen` may get before a sighting refreshes it. Expiry counts in weeks, so a
/// day of imprecision costs nothing, while refreshing on every message would cost a commit per
/// accepted RCPT.
const REFRESH_AFTER: i64 = 86_400;

/// The SQLite implementation of [`GreylistStore`].
#[derive(Debug)]
pub(crate) struct SqliteGreylist {
    pub(crate) pool: SqlitePool,
    pub(crate) writer: Writer,
}

fn entry_from(row: &SqliteRow) -> Result<GreylistEntry, StoreError> {
    Ok(GreylistEntry {
        first_seen: row.try_get("first_seen").ctx("reading a greylist entry")?,
        passed_at: row.try_get("passed_at").ctx("reading a greylist entry")?,
        last_seen: row.try_get("last_seen").ctx("reading a greylist entry")?,
    })
}

#[async_trait]
impl GreylistStore for SqliteGreylist {
    async fn greylist_sighting(&self, key: &str, now: i64) -> Result<GreylistEntry, StoreError> {
        let known =
            sqlx::query("SELECT first_seen, passed_at, last_seen FROM greylist WHERE key = ?1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .ctx("reading a greylist entry")?;
        if let Some(row) = &known {
            let entry = entry_from(row)?;
            if now - entry.last_seen <= REFRESH_AFTER {
                return Ok(entry);
            }
        }
        // New, or known but due for a refresh. One upsert covers both, and also the races: two
        // sessions inserting the same new triplet, or an expiry deleting it since the read.
        let key = key.to_owned();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let row = sqlx::query(
                        "INSERT INTO greylist (key, first_seen, passed_at, last_seen) \
                         VALUES (?1, ?2, NULL, ?2) \
                         ON CONFLICT (key) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen) \
                         RETURNING first_seen, passed_at, last_seen",
                    )
                    .bind(&key)
                    .bind(now)
                    .fetch_one(&mut *conn)
                    .await
                    .ctx("recording a greylist sighting")?;
                    entry_from(&row).map(Written::value)
                })
            })
            .await
    }

    async fn greylist_passed(&self, key: &str, now: i64) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    // An upsert rather than an UPDATE: an expiry may have removed the entry
                    // between the sighting and now, and the pass must still be remembered.
                    sqlx::query(
                        "INSERT INTO greylist (key, first_seen, passed_at, last_seen) \
                         VALUES (?1, ?2, ?2, ?2) \
                         ON CONFLICT (key) DO UPDATE SET \
                         passed_at = COALESCE(passed_at, excluded.passed_at), \
                         last_seen = MAX(last_seen, excluded.last_seen)",
                    )
                    .bind(&key)
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .ctx("recording a greylist pass")?;
                    Ok(Written::value(()))
                })
            })
            .await
    }

    async fn greylist_expire(
        &self,
        passed_before: i64,
        pending_before: i64,
    ) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "DELETE FROM greylist WHERE \
                         (passed_at IS NOT NULL AND last_seen < ?1) \
                         OR (passed_at IS NULL AND last_seen < ?2)",
                    )
                    .bind(passed_before)
                    .bind(pending_before)
                    .execute(&mut *conn)
                    .await
                    .ctx("expiring greylist entries")
                    .map(|done| Written::value(done.rows_affected()))
                })
            })
            .await
    }
}
