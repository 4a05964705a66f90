//! SQL of the mail store on SQLite.
//!
//! Layout: `folders` (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ per folder), `messages` (one row
//! per message in a folder: UID, MODSEQ, flags, dates) and `contents` (one row per distinct
//! content: blob id, size, the parse-once index, the columns pulled out of it and the search
//! text, which the full-text indexer of [`super::search`] picks up after the commit). A
//! content is shared by every message made of the same bytes, so a delivery to fifty
//! mailboxes, a COPY or a MOVE never copies the content.
//!
//! Contents are destroyed only by `contents::collect_garbage`, under the database write lock: it
//! removes the blob files of contents no message references, then the rows, then commits.
//! Writes that reference a blob check that its file exists under the same lock, so a content
//! that a concurrent delete is collecting is written again instead of being lost (see
//! [`store_tx`]). Small contents have no file: their bytes are a row of `content_bodies`
//! written by the same transaction as their messages (see `contents::INLINE_CONTENT_MAX`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use postwerk_message::MessageIndex;
use postwerk_model::{
    AddressId, AddressKind, FolderId, SpecialUse, canonical_folder_name, validate_folder_name,
};
use rusqlite::OptionalExtension as _;
use sqlx::sqlite::SqliteRow;
use sqlx::{Executor, Row, Sqlite, SqliteConnection};
use tokio::sync::broadcast;

use super::cache::Answer;
use super::contents::{
    Content, Upserted, adopt_known, discard_blob_tx, is_inline, known, read_content, upsert_content,
};
use super::writer::Written;
use super::{SqliteStore, conflict_or, int, now, parse, search};
use crate::error::Context;
use crate::{
    BlobId, BlobStore, Copied, DeliveryTarget, Expunged, FetchParts, FetchView, Fingerprint,
    FlagChange, FlagOp, FlagUpdate, Flags, Folder, FolderEvent, FolderEventKind, FolderStatus,
    Keyword, MailStore, MessageMeta, SelectView, StoreError, Stored, SystemFlags, TargetFolder,
    UidSet,
};

/// The canonical name of the INBOX (RFC 9051 §5.1).
const INBOX: &str = "INBOX";

/// Attempts to store a message whose blob a concurrent collection removed meanwhile.
const STORE_ATTEMPTS: usize = 3;

macro_rules! folder_select {
    () => {
        "SELECT id, mailbox_id, name, special_use, uid_validity, uid_next, highest_modseq, \
         subscribed FROM folders"
    };
}

fn folder_from_row(row: &SqliteRow) -> Result<Folder, StoreError> {
    const WHAT: &str = "reading a folder";
    let special_use: Option<String> = row.try_get("special_use").ctx(WHAT)?;
    let special_use =
        match special_use {
            None => None,
            Some(attr) => Some(SpecialUse::from_attribute(&attr).ok_or_else(|| {
                StoreError::backend(WHAT, format!("unknown special use {attr:?}"))
            })?),
        };
    Ok(Folder {
        id: FolderId(row.try_get("id").ctx(WHAT)?),
        mailbox: AddressId(row.try_get("mailbox_id").ctx(WHAT)?),
        name: row.try_get("name").ctx(WHAT)?,
        special_use,
        uid_validity: int(row.try_get("uid_validity").ctx(WHAT)?, WHAT)?,
        uid_next: int(row.try_get("uid_next").ctx(WHAT)?, WHAT)?,
        highest_modseq: int(row.try_get("highest_modseq").ctx(WHAT)?, WHAT)?,
        subscribed: row.try_get("subscribed").ctx(WHAT)?,
    })
}

async fn fetch_folder<'e, E>(e: E, id: FolderId) -> Result<Option<Folder>, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    let row = sqlx::query(concat!(folder_select!(), " WHERE id = ?1"))
        .bind(id.0)
        .fetch_optional(e)
        .await
        .ctx("looking up a folder")?;
    row.as_ref().map(folder_from_row).transpose()
}

pub(super) async fn require_folder<'e, E>(e: E, id: FolderId) -> Result<Folder, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    fetch_folder(e, id).await?.ok_or_else(|| no_folder(id))
}

pub(super) fn no_folder(id: FolderId) -> StoreError {
    StoreError::NotFound(format!("there is no folder with id {id}"))
}

/// Keywords as stored: sorted atoms separated by one space (atoms hold no space).
fn keywords_text(flags: &Flags) -> String {
    flags
        .keywords
        .iter()
        .map(Keyword::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

fn flags_from_columns(bits: i64, keywords: &str) -> Result<Flags, StoreError> {
    const WHAT: &str = "reading message flags";
    let keywords = keywords
        .split_ascii_whitespace()
        .map(|k| {
            Keyword::parse(k).ok_or_else(|| StoreError::backend(WHAT, format!("bad keyword {k:?}")))
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    Ok(Flags {
        system: SystemFlags::from_bits(int(bits, WHAT)?),
        keywords,
    })
}

/// The new UIDVALIDITY: from a counter that never goes back, so a folder deleted and created
/// again under the same name never shows a client its old value (RFC 9051 §2.3.1.1).
async fn next_uid_validity(conn: &mut SqliteConnection) -> Result<u32, StoreError> {
    let raw: i64 = sqlx::query_scalar(
        "UPDATE counters SET value = value + 1 WHERE name = 'uid_validity' RETURNING value - 1",
    )
    .fetch_one(&mut *conn)
    .await
    .ctx("allocating a UIDVALIDITY")?;
    // A non-zero 32-bit number; after four billion folders the values wrap (never to 0).
    Ok(u32::try_from((raw - 1).rem_euclid(i64::from(u32::MAX)) + 1).unwrap_or(1))
}

/// Insert a folder (no checks: the caller made them). Shared with the directory, which creates
/// the default folders of a new mailbox (ADDR-11).
pub(super) async fn insert_folder(
    conn: &mut SqliteConnection,
    mailbox: AddressId,
    name: &str,
    special_use: Option<SpecialUse>,
) -> Result<Folder, StoreError> {
    let uid_validity = next_uid_validity(conn).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO folders (mailbox_id, name, special_use, uid_validity, uid_next, \
         highest_modseq, subscribed, created_at) VALUES (?1, ?2, ?3, ?4, 1, 1, 1, ?5) RETURNING id",
    )
    .bind(mailbox.0)
    .bind(name)
    .bind(special_use.map(SpecialUse::attribute))
    .bind(i64::from(uid_validity))
    .bind(now())
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, format!("the folder {name} already exists")))?;
    Ok(Folder {
        id: FolderId(id),
        mailbox,
        name: name.to_owned(),
        special_use,
        uid_validity,
        uid_next: 1,
        // RFC 7162 §3.1.1: mod-sequences are positive; a new folder starts at 1.
        highest_modseq: 1,
        subscribed: true,
    })
}

async fn folder_id_by_name(
    conn: &mut SqliteConnection,
    mailbox: AddressId,
    name: &str,
) -> Result<Option<FolderId>, StoreError> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM folders WHERE mailbox_id = ?1 AND name = ?2")
            .bind(mailbox.0)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .ctx("looking up a folder")?;
    Ok(id.map(FolderId))
}

/// Create the missing parents of `name` (RFC 9051 §6.3.4: a server SHOULD).
async fn ensure_parents(
    conn: &mut SqliteConnection,
    mailbox: AddressId,
    name: &str,
    events: &mut Vec<FolderEvent>,
) -> Result<(), StoreError> {
    for (at, _) in name.match_indices('/') {
        let parent = &name[..at];
        if folder_id_by_name(conn, mailbox, parent).await?.is_none() {
            let folder = insert_folder(conn, mailbox, parent, None).await?;
            events.push(created(&folder));
        }
    }
    Ok(())
}

fn created(folder: &Folder) -> FolderEvent {
    FolderEvent {
        folder: folder.id,
        mailbox: folder.mailbox,
        modseq: folder.highest_modseq,
        kind: FolderEventKind::Created,
    }
}

/// Takes ?2 UIDs and one new MODSEQ in folder ?1.
const ALLOCATE_UIDS: &str = "UPDATE folders SET uid_next = uid_next + ?2, \
     highest_modseq = highest_modseq + 1 \
     WHERE id = ?1 RETURNING uid_next - ?2, highest_modseq, uid_validity, mailbox_id";

/// Take `count` UIDs and one new MODSEQ in a folder. Returns the first UID, the MODSEQ, the
/// UIDVALIDITY and the mailbox.
async fn allocate_uids(
    conn: &mut SqliteConnection,
    folder: FolderId,
    count: u32,
) -> Result<(u32, u64, u32, AddressId), StoreError> {
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(ALLOCATE_UIDS)
        .bind(folder.0)
        .bind(i64::from(count))
        .fetch_optional(&mut *conn)
        .await
        .ctx(ALLOCATING)?;
    allocated_uids(folder, count, row)
}

/// [`allocate_uids`] on the writer's handle ([`super::direct`]).
fn allocate_uids_direct(
    db: &rusqlite::Connection,
    folder: FolderId,
    count: u32,
) -> Result<(u32, u64, u32, AddressId), StoreError> {
    let row = db
        .prepare_cached(ALLOCATE_UIDS)
        .and_then(|mut update| {
            update
                .query_row((folder.0, i64::from(count)), |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()
        })
        .ctx(ALLOCATING)?;
    allocated_uids(folder, count, row)
}

const ALLOCATING: &str = "allocating UIDs";

/// What [`ALLOCATE_UIDS`] returned, checked.
fn allocated_uids(
    folder: FolderId,
    count: u32,
    row: Option<(i64, i64, i64, i64)>,
) -> Result<(u32, u64, u32, AddressId), StoreError> {
    let (first, modseq, uid_validity, mailbox) = row.ok_or_else(|| no_folder(folder))?;
    // UIDs are 32-bit (RFC 9051 §2.3.1.1); the savepoint undoes the update on refusal.
    if first + i64::from(count) - 1 > i64::from(u32::MAX) {
        return Err(used_up_uids());
    }
    Ok((
        int(first, ALLOCATING)?,
        int(modseq, ALLOCATING)?,
        int(uid_validity, ALLOCATING)?,
        AddressId(mailbox),
    ))
}

fn used_up_uids() -> StoreError {
    StoreError::Refused(
        "this folder has used up its UIDs; copy its messages into a new folder".to_owned(),
    )
}

/// Raise a folder's HIGHESTMODSEQ by one and return it (EXPUNGE, STORE).
async fn bump_modseq(conn: &mut SqliteConnection, folder: FolderId) -> Result<u64, StoreError> {
    let modseq: Option<i64> = sqlx::query_scalar(
        "UPDATE folders SET highest_modseq = highest_modseq + 1 WHERE id = ?1 \
         RETURNING highest_modseq",
    )
    .bind(folder.0)
    .fetch_optional(&mut *conn)
    .await
    .ctx("raising a MODSEQ")?;
    int(modseq.ok_or_else(|| no_folder(folder))?, "raising a MODSEQ")
}

/// Where a stored message goes.
#[derive(Clone, Debug)]
enum Target {
    /// Local delivery (may fall back to INBOX).
    Mailbox(DeliveryTarget),
    /// APPEND to this exact folder.
    Folder(FolderId),
}

/// Choose the folder of a delivery target and take one UID in it, in one statement: the
/// special-use or named folder if it exists, INBOX otherwise. Returns the folder, the UID, the
/// MODSEQ and the UIDVALIDITY. Runs on the writer's handle ([`super::direct`]).
fn allocate_for_target(
    db: &rusqlite::Connection,
    target: &DeliveryTarget,
) -> Result<(FolderId, u32, u64, u32), StoreError> {
    const WHAT: &str = "choosing a delivery folder";
    let (special_use, name) = match &target.folder {
        TargetFolder::Inbox => (None, None),
        TargetFolder::SpecialUse(special_use) => (Some(special_use.attribute()), None),
        TargetFolder::Named(name) => (None, Some(canonical_folder_name(name))),
    };
    let row: Option<(i64, i64, i64, i64)> = db
        .prepare_cached(
            "UPDATE folders SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1 \
             WHERE id = COALESCE( \
                 (SELECT id FROM folders WHERE mailbox_id = ?1 AND special_use = ?2), \
                 (SELECT id FROM folders WHERE mailbox_id = ?1 AND name = ?3), \
                 (SELECT id FROM folders WHERE mailbox_id = ?1 AND name = 'INBOX')) \
             RETURNING id, uid_next - 1, highest_modseq, uid_validity",
        )
        .and_then(|mut update| {
            update
                .query_row((target.mailbox.0, special_use, name), |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .optional()
        })
        .ctx(WHAT)?;
    let (folder, uid, modseq, uid_validity) = row.ok_or_else(|| {
        StoreError::NotFound(format!(
            "the address with id {} has no mailbox to deliver to",
            target.mailbox
        ))
    })?;
    if uid > i64::from(u32::MAX) {
        return Err(used_up_uids());
    }
    Ok((
        FolderId(folder),
        int(uid, WHAT)?,
        int(modseq, WHAT)?,
        int(uid_validity, WHAT)?,
    ))
}

/// Flags as stored.
#[derive(Clone, Debug)]
struct StoredFlags {
    bits: i64,
    keywords: String,
}

impl From<&Flags> for StoredFlags {
    fn from(flags: &Flags) -> StoredFlags {
        StoredFlags {
            bits: i64::from(flags.system.bits()),
            keywords: keywords_text(flags),
        }
    }
}

/// Store one content as a message in each target, through the writer's sqlx path: for a
/// content that is a file, or an inline content [`store_rows`] found stored as a file before
/// migration 5. `None` if the blob file vanished (a concurrent collection removed it after
/// the caller wrote it): the caller writes it again and retries.
async fn store_tx(
    conn: &mut SqliteConnection,
    blobs: Arc<dyn BlobStore>,
    content: Arc<Content>,
    targets: Vec<Target>,
    flags: StoredFlags,
    internal_date: i64,
    once: Option<Fingerprint>,
) -> Result<Written<Option<Vec<Option<Stored>>>>, StoreError> {
    // Under the write lock, collections cannot run: if the file is here now, it stays.
    if content.inline.is_none() && !blobs.exists(&content.blob).await? {
        return Ok(Written::value(None));
    }
    if let Some(body) = &content.inline {
        let known = super::direct::run(conn, |db| known(db, &content.blob)).await?;
        if let Some((id, false)) = known {
            // The same bytes stored as a file before migration 5: the file stays if it is
            // there, else the bytes at hand become the content's.
            adopt_known(conn, &blobs, id, &content.blob, body).await?;
        }
    }
    let count = targets.len();
    let rows = super::direct::run(conn, |db| {
        store_rows(db, &content, targets, &flags, internal_date, once, true)
    })
    .await?;
    match rows {
        Rows::Received => Ok(Written::value(Some(vec![None; count]))),
        Rows::FileToCheck => Err(StoreError::backend(
            "storing a message",
            "its content's file was checked, yet is asked for again",
        )),
        Rows::Stored(upserted, stored, events) => {
            if let (None, Upserted::Known { has_body: true, .. }) = (&content.inline, upserted) {
                // Stored inline by a build with a larger threshold: the bytes are in the
                // database, the file just written is not needed (a content is never both).
                blobs.remove(&content.blob).await?;
            }
            Ok(stored_written(stored, events))
        }
    }
}

/// The write of messages stored by [`store_rows`], with an answer for [`store_tx`].
fn stored_written(
    stored: Vec<Option<Stored>>,
    events: Vec<FolderEvent>,
) -> Written<Option<Vec<Option<Stored>>>> {
    Written::with_events(Some(stored), events).new_messages()
}

/// What [`store_rows`] did.
enum Rows {
    /// Every target had received the message already: nothing was written.
    Received,
    /// The inline content is known as a file stored before migration 5, which only the
    /// sqlx path can look for ([`store_tx`]): nothing was written.
    FileToCheck,
    /// The content (unless known) and these messages were written.
    Stored(Upserted, Vec<Option<Stored>>, Vec<FolderEvent>),
}

/// The rows of a store, on the writer's handle ([`super::direct`]): the content (unless
/// known), then a message per target that has not received it already. `file_checked`: the
/// caller has dealt with an inline content known as a file.
fn store_rows(
    db: &rusqlite::Connection,
    content: &Content,
    targets: Vec<Target>,
    flags: &StoredFlags,
    internal_date: i64,
    once: Option<Fingerprint>,
    file_checked: bool,
) -> Result<Rows, StoreError> {
    let known = known(db, &content.blob)?;
    if content.inline.is_some() && !file_checked && matches!(known, Some((_, false))) {
        return Ok(Rows::FileToCheck);
    }
    let received = match once {
        Some(once) => already_received(db, &targets, once, internal_date)?,
        None => vec![false; targets.len()],
    };
    if received.iter().all(|&seen| seen) {
        return Ok(Rows::Received);
    }
    let upserted = upsert_content(db, content, known)?;
    let content_id = upserted.id();
    let saved_at = now();
    let mut stored = Vec::with_capacity(targets.len());
    let mut events = Vec::with_capacity(targets.len());
    for (target, seen) in targets.into_iter().zip(received) {
        if seen {
            stored.push(None);
            continue;
        }
        let (folder, uid, modseq, uid_validity, mailbox) = match &target {
            Target::Mailbox(target) => {
                let (folder, uid, modseq, uid_validity) = allocate_for_target(db, target)?;
                (folder, uid, modseq, uid_validity, target.mailbox)
            }
            Target::Folder(folder) => {
                let (uid, modseq, uid_validity, mailbox) = allocate_uids_direct(db, *folder, 1)?;
                (*folder, uid, modseq, uid_validity, mailbox)
            }
        };
        let modseq_column =
            i64::try_from(modseq).map_err(|e| StoreError::backend("storing a message", e))?;
        db.prepare_cached(
            "INSERT INTO messages (folder_id, uid, modseq, system_flags, keywords, internal_date, \
             saved_at, content_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut insert| {
            insert.execute(rusqlite::params![
                folder.0,
                i64::from(uid),
                modseq_column,
                flags.bits,
                flags.keywords,
                internal_date,
                saved_at,
                content_id,
            ])
        })
        .ctx("storing a message")?;
        stored.push(Some(Stored {
            folder,
            uid_validity,
            uid,
        }));
        events.push(FolderEvent {
            folder,
            mailbox,
            modseq,
            kind: FolderEventKind::Appended { uids: vec![uid] },
        });
    }
    Ok(Rows::Stored(upserted, stored, events))
}

/// When this process last forgot expired delivery fingerprints, in Unix seconds.
static FINGERPRINTS_PRUNED_AT: AtomicI64 = AtomicI64::new(0);

/// How often expired fingerprints are forgotten. Housekeeping only: a fingerprint older than
/// the window never counts, pruned or not. Once per delivery, the DELETE was one of the nine
/// statements of a delivery's job, each a round trip between the writer and its connection.
const FINGERPRINT_PRUNE_EVERY: i64 = 60;

/// For each target, whether its mailbox received a message of this fingerprint within the
/// window; the others are recorded as receiving it now, in the delivery's transaction (its
/// savepoint undoes that if the delivery fails). One statement per mailbox both asks and
/// records. Forgets the fingerprints older than the window first, once a minute (an index
/// range, so the table stays about the size of the window's deliveries).
fn already_received(
    db: &rusqlite::Connection,
    targets: &[Target],
    once: Fingerprint,
    at: i64,
) -> Result<Vec<bool>, StoreError> {
    const WHAT: &str = "looking for an earlier delivery of the same message";
    let now = now();
    let pruned_at = FINGERPRINTS_PRUNED_AT.load(Ordering::Relaxed);
    if now - pruned_at >= FINGERPRINT_PRUNE_EVERY
        && FINGERPRINTS_PRUNED_AT
            .compare_exchange(pruned_at, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        db.execute(
            "DELETE FROM delivery_fingerprints WHERE delivered_at < ?1",
            [once.since],
        )
        .ctx(WHAT)?;
    }
    let mut received = Vec::with_capacity(targets.len());
    let mut claimed: Vec<AddressId> = Vec::with_capacity(targets.len());
    for target in targets {
        let Target::Mailbox(target) = target else {
            received.push(false);
            continue;
        };
        if claimed.contains(&target.mailbox) {
            // Two copies for one mailbox in one delivery: the first claim was this one's.
            received.push(false);
            continue;
        }
        // A row comes back when the fingerprint is new for the mailbox, or older than the
        // window (then renewed); nothing when the mailbox received it within the window.
        let fresh: Option<i64> = db
            .prepare_cached(
                "INSERT INTO delivery_fingerprints (mailbox, fingerprint, delivered_at) \
                 VALUES (?1, ?2, ?3) ON CONFLICT (mailbox, fingerprint) \
                 DO UPDATE SET delivered_at = excluded.delivered_at WHERE delivered_at < ?4 \
                 RETURNING 1",
            )
            .and_then(|mut claim| {
                claim
                    .query_row(
                        rusqlite::params![target.mailbox.0, &once.digest[..], at, once.since],
                        |row| row.get(0),
                    )
                    .optional()
            })
            .ctx(WHAT)?;
        if fresh.is_some() {
            claimed.push(target.mailbox);
        }
        received.push(fresh.is_none());
    }
    Ok(received)
}

async fn create_folder_tx(
    conn: &mut SqliteConnection,
    mailbox: AddressId,
    name: String,
    special_use: Option<SpecialUse>,
) -> Result<Written<Folder>, StoreError> {
    let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM addresses WHERE id = ?1")
        .bind(mailbox.0)
        .fetch_optional(&mut *conn)
        .await
        .ctx("looking up a mailbox")?;
    let kind: AddressKind = match kind {
        None => {
            return Err(StoreError::NotFound(format!(
                "there is no address with id {mailbox}"
            )));
        }
        Some(kind) => parse(&kind, "looking up a mailbox")?,
    };
    if !kind.holds_mail() {
        return Err(StoreError::Refused(format!(
            "a {kind} address holds no mail, so it has no folders"
        )));
    }
    if folder_id_by_name(conn, mailbox, &name).await?.is_some() {
        return Err(StoreError::Conflict(format!(
            "the folder {name} already exists"
        )));
    }
    if let Some(special_use) = special_use {
        // The unique index `folders_special_use` allows one folder per special use and
        // mailbox; asking first names the folder that holds it, where the index would only
        // say that something does.
        let holder: Option<String> = sqlx::query_scalar(
            "SELECT name FROM folders WHERE mailbox_id = ?1 AND special_use = ?2",
        )
        .bind(mailbox.0)
        .bind(special_use.attribute())
        .fetch_optional(&mut *conn)
        .await
        .ctx("looking up a special-use folder")?;
        if let Some(holder) = holder {
            return Err(StoreError::Refused(format!(
                "the folder {holder} already has the special use {special_use}"
            )));
        }
    }
    let mut events = Vec::new();
    ensure_parents(conn, mailbox, &name, &mut events).await?;
    let folder = insert_folder(conn, mailbox, &name, special_use).await?;
    events.push(created(&folder));
    Ok(Written::with_events(folder, events))
}

async fn rename_folder_tx(
    conn: &mut SqliteConnection,
    id: FolderId,
    new_name: String,
) -> Result<Written<Folder>, StoreError> {
    let folder = require_folder(&mut *conn, id).await?;
    if folder_id_by_name(conn, folder.mailbox, &new_name)
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict(format!(
            "the folder {new_name} already exists"
        )));
    }
    let mut events = Vec::new();
    if folder.name == INBOX {
        // RFC 9051 §6.3.6: renaming INBOX moves its messages to a new folder and leaves INBOX
        // in place, empty; INBOX's subfolders stay where they are.
        ensure_parents(conn, folder.mailbox, &new_name, &mut events).await?;
        let target = insert_folder(conn, folder.mailbox, &new_name, None).await?;
        events.push(created(&target));
        let moved = transfer(conn, &folder, &UidSet::all(), &target, Transfer::Move).await?;
        events.extend(moved.events);
        let target = require_folder(&mut *conn, target.id).await?;
        // A move frees no content, so there is nothing to collect.
        return Ok(Written::with_events(target, events));
    }
    let prefix = format!("{}/", folder.name);
    if new_name.starts_with(&prefix) {
        return Err(StoreError::Refused(format!(
            "the folder {} cannot be moved inside itself",
            folder.name
        )));
    }
    ensure_parents(conn, folder.mailbox, &new_name, &mut events).await?;
    // RFC 9051 §6.3.6: the folders below it are renamed too.
    let all: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT id, name, highest_modseq FROM folders WHERE mailbox_id = ?1")
            .bind(folder.mailbox.0)
            .fetch_all(&mut *conn)
            .await
            .ctx("renaming a folder")?;
    for (folder_id, name, modseq) in all {
        let renamed = if name == folder.name {
            new_name.clone()
        } else if let Some(rest) = name.strip_prefix(&prefix) {
            format!("{new_name}/{rest}")
        } else {
            continue;
        };
        sqlx::query("UPDATE folders SET name = ?2 WHERE id = ?1")
            .bind(folder_id)
            .bind(&renamed)
            .execute(&mut *conn)
            .await
            .map_err(|e| conflict_or(e, format!("the folder {renamed} already exists")))?;
        events.push(FolderEvent {
            folder: FolderId(folder_id),
            mailbox: folder.mailbox,
            modseq: int(modseq, "renaming a folder")?,
            kind: FolderEventKind::Renamed { name: renamed },
        });
    }
    let renamed = require_folder(&mut *conn, id).await?;
    Ok(Written::with_events(renamed, events))
}

async fn delete_folder_tx(
    conn: &mut SqliteConnection,
    id: FolderId,
) -> Result<Written<()>, StoreError> {
    let folder = require_folder(&mut *conn, id).await?;
    if folder.name == INBOX {
        return Err(StoreError::Refused("INBOX cannot be deleted".to_owned()));
    }
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM folders WHERE mailbox_id = ?1")
        .bind(folder.mailbox.0)
        .fetch_all(&mut *conn)
        .await
        .ctx("deleting a folder")?;
    let prefix = format!("{}/", folder.name);
    if names.iter().any(|n| n.starts_with(&prefix)) {
        return Err(StoreError::Refused(format!(
            "the folder {} has subfolders; delete them first",
            folder.name
        )));
    }
    for statement in [
        "DELETE FROM messages WHERE folder_id = ?1",
        "DELETE FROM expunged WHERE folder_id = ?1",
        "DELETE FROM folders WHERE id = ?1",
    ] {
        sqlx::query(statement)
            .bind(id.0)
            .execute(&mut *conn)
            .await
            .ctx("deleting a folder")?;
    }
    let event = FolderEvent {
        folder: id,
        mailbox: folder.mailbox,
        modseq: folder.highest_modseq,
        kind: FolderEventKind::Deleted,
    };
    Ok(Written::with_events((), vec![event]).collect_garbage())
}

async fn set_subscribed_tx(
    conn: &mut SqliteConnection,
    id: FolderId,
    subscribed: bool,
) -> Result<Written<()>, StoreError> {
    let folder = require_folder(&mut *conn, id).await?;
    sqlx::query("UPDATE folders SET subscribed = ?2 WHERE id = ?1")
        .bind(id.0)
        .bind(subscribed)
        .execute(&mut *conn)
        .await
        .ctx("changing a subscription")?;
    let event = FolderEvent {
        folder: id,
        mailbox: folder.mailbox,
        modseq: folder.highest_modseq,
        kind: FolderEventKind::Subscription { subscribed },
    };
    Ok(Written::with_events((), vec![event]))
}

// ---- Message writes.

/// A message row as COPY/MOVE/STORE need it.
struct MessageRow {
    id: i64,
    uid: u32,
    modseq: u64,
    flags: Flags,
    internal_date: i64,
    content_id: i64,
}

/// The messages of `folder` whose UID is in `uids`, ascending.
async fn select_messages(
    conn: &mut SqliteConnection,
    folder: FolderId,
    uids: &UidSet,
) -> Result<Vec<MessageRow>, StoreError> {
    const WHAT: &str = "selecting messages";
    let Some((low, high)) = uids.bounds() else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query(
        "SELECT id, uid, modseq, system_flags, keywords, internal_date, content_id FROM messages \
         WHERE folder_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
    )
    .bind(folder.0)
    .bind(i64::from(low))
    .bind(i64::from(high))
    .fetch_all(&mut *conn)
    .await
    .ctx(WHAT)?;
    let mut messages = Vec::with_capacity(rows.len());
    for row in rows {
        let uid: u32 = int(row.try_get("uid").ctx(WHAT)?, WHAT)?;
        // The SQL took the bounds; the gaps between ranges are dropped here.
        if !uids.contains(uid) {
            continue;
        }
        messages.push(MessageRow {
            id: row.try_get("id").ctx(WHAT)?,
            uid,
            modseq: int(row.try_get("modseq").ctx(WHAT)?, WHAT)?,
            flags: flags_from_columns(
                row.try_get("system_flags").ctx(WHAT)?,
                row.try_get("keywords").ctx(WHAT)?,
            )?,
            internal_date: row.try_get("internal_date").ctx(WHAT)?,
            content_id: row.try_get("content_id").ctx(WHAT)?,
        });
    }
    Ok(messages)
}

async fn set_flags_tx(
    conn: &mut SqliteConnection,
    id: FolderId,
    uids: UidSet,
    op: FlagOp,
    change: Flags,
    unchanged_since: Option<u64>,
) -> Result<Written<FlagUpdate>, StoreError> {
    const WHAT: &str = "changing flags";
    let folder = require_folder(&mut *conn, id).await?;
    let mut update = FlagUpdate::default();
    let mut pending = Vec::new();
    for message in select_messages(conn, id, &uids).await? {
        // RFC 7162 §3.1.3: a message changed after UNCHANGEDSINCE is left alone.
        if unchanged_since.is_some_and(|since| message.modseq > since) {
            update.modified.push(message.uid);
            continue;
        }
        let flags = message.flags.apply(op, &change);
        if flags != message.flags {
            pending.push((message.id, message.uid, flags));
        }
    }
    if pending.is_empty() {
        return Ok(Written::value(update));
    }
    // One MODSEQ for the whole STORE: RFC 7162 lets messages share one.
    let modseq = bump_modseq(conn, id).await?;
    let modseq_column = i64::try_from(modseq).map_err(|e| StoreError::backend(WHAT, e))?;
    for (message_id, uid, flags) in pending {
        let stored = StoredFlags::from(&flags);
        sqlx::query(
            "UPDATE messages SET system_flags = ?2, keywords = ?3, modseq = ?4 WHERE id = ?1",
        )
        .bind(message_id)
        .bind(stored.bits)
        .bind(&stored.keywords)
        .bind(modseq_column)
        .execute(&mut *conn)
        .await
        .ctx(WHAT)?;
        update.changed.push(FlagChange { uid, flags, modseq });
    }
    let event = FolderEvent {
        folder: id,
        mailbox: folder.mailbox,
        modseq,
        kind: FolderEventKind::FlagsChanged {
            uids: update.changed.iter().map(|c| c.uid).collect(),
        },
    };
    Ok(Written::with_events(update, vec![event]))
}

/// Record UIDs as expunged at `modseq` (for QRESYNC) and publish nothing: callers do.
async fn record_expunged(
    conn: &mut SqliteConnection,
    folder: FolderId,
    uids: &[u32],
    modseq: u64,
) -> Result<(), StoreError> {
    let modseq = i64::try_from(modseq).map_err(|e| StoreError::backend("expunging", e))?;
    for uid in uids {
        sqlx::query("INSERT INTO expunged (folder_id, uid, modseq) VALUES (?1, ?2, ?3)")
            .bind(folder.0)
            .bind(i64::from(*uid))
            .bind(modseq)
            .execute(&mut *conn)
            .await
            .ctx("recording expunged messages")?;
    }
    Ok(())
}

async fn expunge_tx(
    conn: &mut SqliteConnection,
    id: FolderId,
    uids: Option<UidSet>,
) -> Result<Written<Expunged>, StoreError> {
    let folder = require_folder(&mut *conn, id).await?;
    let candidates = select_messages(conn, id, uids.as_ref().unwrap_or(&UidSet::all())).await?;
    let doomed: Vec<&MessageRow> = candidates
        .iter()
        .filter(|m| m.flags.system.contains(SystemFlags::DELETED))
        .collect();
    if doomed.is_empty() {
        return Ok(Written::value(Expunged {
            uids: Vec::new(),
            modseq: folder.highest_modseq,
        }));
    }
    let modseq = bump_modseq(conn, id).await?;
    for message in &doomed {
        sqlx::query("DELETE FROM messages WHERE id = ?1")
            .bind(message.id)
            .execute(&mut *conn)
            .await
            .ctx("expunging")?;
    }
    let uids: Vec<u32> = doomed.iter().map(|m| m.uid).collect();
    record_expunged(conn, id, &uids, modseq).await?;
    let event = FolderEvent {
        folder: id,
        mailbox: folder.mailbox,
        modseq,
        kind: FolderEventKind::Expunged { uids: uids.clone() },
    };
    Ok(Written::with_events(Expunged { uids, modseq }, vec![event]).collect_garbage())
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Transfer {
    Copy,
    Move,
}

/// COPY or MOVE the messages of `from` in `uids` to `to`. A move inside a mailbox updates the
/// rows in place (same content, new folder and UID), so nothing is re-indexed or collected. A
/// move to another mailbox (a shared mailbox in webmail) inserts new rows and deletes the old
/// ones: a message never changes mailbox, so the search index, which keeps one document per
/// mailbox and content and finds new ones by message id, picks the moved ones up.
async fn transfer(
    conn: &mut SqliteConnection,
    from: &Folder,
    uids: &UidSet,
    to: &Folder,
    mode: Transfer,
) -> Result<Written<Copied>, StoreError> {
    const WHAT: &str = "copying messages";
    let messages = select_messages(conn, from.id, uids).await?;
    if messages.is_empty() {
        return Ok(Written::value(Copied {
            uid_validity: to.uid_validity,
            uids: Vec::new(),
        }));
    }
    let count = u32::try_from(messages.len()).map_err(|e| StoreError::backend(WHAT, e))?;
    let (first, modseq, uid_validity, _) = allocate_uids(conn, to.id, count).await?;
    let modseq_column = i64::try_from(modseq).map_err(|e| StoreError::backend(WHAT, e))?;
    // SAVEDATE (RFC 8514) is when the message arrived in this folder, so a copy gets now.
    let saved_at = now();
    let mut pairs = Vec::with_capacity(messages.len());
    let in_place = mode == Transfer::Move && from.mailbox == to.mailbox;
    for (message, uid) in messages.iter().zip(first..) {
        let query = if in_place {
            sqlx::query(
                "UPDATE messages SET folder_id = ?2, uid = ?3, modseq = ?4, saved_at = ?5 \
                 WHERE id = ?1",
            )
            .bind(message.id)
            .bind(to.id.0)
            .bind(i64::from(uid))
            .bind(modseq_column)
            .bind(saved_at)
        } else {
            sqlx::query(
                "INSERT INTO messages (folder_id, uid, modseq, system_flags, keywords, \
                 internal_date, saved_at, content_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .bind(to.id.0)
            .bind(i64::from(uid))
            .bind(modseq_column)
            .bind(i64::from(message.flags.system.bits()))
            .bind(keywords_text(&message.flags))
            .bind(message.internal_date)
            .bind(saved_at)
            .bind(message.content_id)
        };
        query.execute(&mut *conn).await.ctx(WHAT)?;
        if mode == Transfer::Move && !in_place {
            sqlx::query("DELETE FROM messages WHERE id = ?1")
                .bind(message.id)
                .execute(&mut *conn)
                .await
                .ctx(WHAT)?;
        }
        pairs.push((message.uid, uid));
    }
    let mut events = vec![FolderEvent {
        folder: to.id,
        mailbox: to.mailbox,
        modseq,
        kind: FolderEventKind::Appended {
            uids: pairs.iter().map(|p| p.1).collect(),
        },
    }];
    if mode == Transfer::Move {
        let source_modseq = bump_modseq(conn, from.id).await?;
        let gone: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        record_expunged(conn, from.id, &gone, source_modseq).await?;
        events.push(FolderEvent {
            folder: from.id,
            mailbox: from.mailbox,
            modseq: source_modseq,
            kind: FolderEventKind::Expunged { uids: gone },
        });
    }
    let written = Written::with_events(
        Copied {
            uid_validity,
            uids: pairs,
        },
        events,
    );
    Ok(if from.mailbox == to.mailbox {
        written
    } else {
        written.new_messages()
    })
}

async fn transfer_tx(
    conn: &mut SqliteConnection,
    from: FolderId,
    uids: UidSet,
    to: FolderId,
    mode: Transfer,
) -> Result<Written<Copied>, StoreError> {
    let source = require_folder(&mut *conn, from).await?;
    let target = require_folder(&mut *conn, to).await?;
    transfer(conn, &source, &uids, &target, mode).await
}

// ---- Reads.

fn meta_from_row(row: &SqliteRow) -> Result<MessageMeta, StoreError> {
    const WHAT: &str = "reading a message";
    let hash: &str = row.try_get("hash").ctx(WHAT)?;
    Ok(MessageMeta {
        uid: int(row.try_get("uid").ctx(WHAT)?, WHAT)?,
        modseq: int(row.try_get("modseq").ctx(WHAT)?, WHAT)?,
        flags: flags_from_columns(
            row.try_get("system_flags").ctx(WHAT)?,
            row.try_get("keywords").ctx(WHAT)?,
        )?,
        internal_date: row.try_get("internal_date").ctx(WHAT)?,
        saved_at: row.try_get("saved_at").ctx(WHAT)?,
        size: int(row.try_get("size").ctx(WHAT)?, WHAT)?,
        blob: BlobId::parse(hash)
            .ok_or_else(|| StoreError::backend(WHAT, format!("bad blob id {hash:?}")))?,
        subject: row.try_get("subject").ctx(WHAT)?,
        from: row.try_get("from_addr").ctx(WHAT)?,
        sent_date: row.try_get("sent_date").ctx(WHAT)?,
        has_attachments: row.try_get("has_attachments").ctx(WHAT)?,
    })
}

/// What SELECT reports, from a view of the whole folder.
fn select_view_of(view: &FetchView) -> SelectView {
    let mut uids = Vec::with_capacity(view.len());
    let mut first_unseen = None;
    let mut lists = BTreeSet::new();
    for record in view.iter() {
        uids.push(record.uid);
        if first_unseen.is_none() && !record.system.contains(SystemFlags::SEEN) {
            first_unseen = Some(record.uid);
        }
        let mut keywords = record.keywords().peekable();
        if keywords.peek().is_some() {
            lists.extend(keywords);
        }
    }
    SelectView {
        uids,
        first_unseen,
        keywords: lists.into_iter().filter_map(Keyword::parse).collect(),
    }
}

impl SqliteStore {
    /// Write the blob (unless the content is small enough to be stored inline), then store the
    /// messages; see [`store_tx`] for the retry.
    async fn store(
        &self,
        raw: &[u8],
        index: &MessageIndex,
        targets: Vec<Target>,
        flags: &Flags,
        internal_date: i64,
        once: Option<Fingerprint>,
    ) -> Result<Vec<Option<Stored>>, StoreError> {
        if self.writer.is_closed() {
            // Refuse before writing a blob nobody could reference or remove.
            return Err(StoreError::backend(
                "storing a message",
                "the store is closed",
            ));
        }
        // RCV-12: the content is on stable storage before the metadata commit, or, inline, in
        // the commit itself.
        let inline = is_inline(raw.len());
        let blob = if inline {
            BlobId::of(raw)
        } else {
            self.blobs.put(raw).await?
        };
        let content = Arc::new(Content::new(blob.clone(), raw, index)?);
        let flags = StoredFlags::from(flags);
        if inline {
            // The common case, all statements: on the writer's thread in one go. Only a
            // content known as a file from before migration 5 needs the sqlx path below.
            let (content, targets, flags) = (content.clone(), targets.clone(), flags.clone());
            let count = targets.len();
            let direct = self
                .writer
                .write_direct(move |db| {
                    let rows =
                        store_rows(db, &content, targets, &flags, internal_date, once, false)?;
                    Ok(match rows {
                        Rows::Received => Written::value(Some(vec![None; count])),
                        Rows::FileToCheck => Written::value(None),
                        Rows::Stored(_, stored, events) => stored_written(stored, events),
                    })
                })
                .await?;
            if let Some(stored) = direct {
                return Ok(stored);
            }
        }
        for _ in 0..STORE_ATTEMPTS {
            let (blobs, content, targets, flags) = (
                self.blobs.clone(),
                content.clone(),
                targets.clone(),
                flags.clone(),
            );
            let outcome = self
                .writer
                .write(move |conn| {
                    Box::pin(store_tx(
                        conn,
                        blobs,
                        content,
                        targets,
                        flags,
                        internal_date,
                        once,
                    ))
                })
                .await;
            match outcome {
                Ok(Some(stored)) => {
                    if !inline && stored.iter().all(Option::is_none) {
                        // A retry nobody needed: the file written for it goes again.
                        self.discard_blob(blob).await;
                    }
                    return Ok(stored);
                }
                Ok(None) => {
                    self.blobs.put(raw).await?;
                }
                Err(error) => {
                    if !inline {
                        self.discard_blob(blob).await;
                    }
                    return Err(error);
                }
            }
        }
        Err(StoreError::backend(
            "storing a message",
            "its content was removed again and again",
        ))
    }

    /// Best effort: a blob left behind by a failed store is only wasted space.
    async fn discard_blob(&self, blob: BlobId) {
        let blobs = self.blobs.clone();
        let outcome = self
            .writer
            .write(move |conn| Box::pin(discard_blob_tx(conn, blobs, blob)))
            .await;
        if let Err(error) = outcome {
            tracing::warn!(%error, "removing the blob of a failed store");
        }
    }
}

#[async_trait]
impl MailStore for SqliteStore {
    fn subscribe(&self, mailbox: AddressId) -> broadcast::Receiver<FolderEvent> {
        self.events.subscribe(mailbox)
    }

    async fn list_folders(&self, mailbox: AddressId) -> Result<Vec<Folder>, StoreError> {
        let rows = sqlx::query(concat!(
            folder_select!(),
            " WHERE mailbox_id = ?1 ORDER BY name"
        ))
        .bind(mailbox.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing folders")?;
        rows.iter().map(folder_from_row).collect()
    }

    async fn folder(&self, folder: FolderId) -> Result<Option<Folder>, StoreError> {
        fetch_folder(&self.pool, folder).await
    }

    async fn folder_by_name(
        &self,
        mailbox: AddressId,
        name: &str,
    ) -> Result<Option<Folder>, StoreError> {
        let row = sqlx::query(concat!(
            folder_select!(),
            " WHERE mailbox_id = ?1 AND name = ?2"
        ))
        .bind(mailbox.0)
        .bind(canonical_folder_name(name))
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a folder")?;
        row.as_ref().map(folder_from_row).transpose()
    }

    async fn create_folder(&self, mailbox: AddressId, name: &str) -> Result<Folder, StoreError> {
        validate_folder_name(name)?;
        let name = canonical_folder_name(name);
        self.writer
            .write(move |conn| Box::pin(create_folder_tx(conn, mailbox, name, None)))
            .await
    }

    async fn create_folder_with_use(
        &self,
        mailbox: AddressId,
        name: &str,
        special_use: SpecialUse,
    ) -> Result<Folder, StoreError> {
        validate_folder_name(name)?;
        let name = canonical_folder_name(name);
        self.writer
            .write(move |conn| Box::pin(create_folder_tx(conn, mailbox, name, Some(special_use))))
            .await
    }

    async fn rename_folder(&self, folder: FolderId, new_name: &str) -> Result<Folder, StoreError> {
        validate_folder_name(new_name)?;
        let new_name = canonical_folder_name(new_name);
        self.writer
            .write(move |conn| Box::pin(rename_folder_tx(conn, folder, new_name)))
            .await
    }

    async fn delete_folder(&self, folder: FolderId) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(delete_folder_tx(conn, folder)))
            .await
    }

    async fn set_subscribed(&self, folder: FolderId, subscribed: bool) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(set_subscribed_tx(conn, folder, subscribed)))
            .await
    }

    async fn status(&self, folder: FolderId) -> Result<FolderStatus, StoreError> {
        const WHAT: &str = "counting messages";
        // One snapshot, so the counts agree with UIDNEXT and HIGHESTMODSEQ.
        let mut tx = self.pool.begin().await.ctx(WHAT)?;
        let found = require_folder(&mut *tx, folder).await?;
        let (messages, unseen, deleted, size): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), \
             COALESCE(SUM(CASE WHEN m.system_flags & 1 = 0 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN m.system_flags & 8 <> 0 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(c.size), 0) \
             FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.folder_id = ?1",
        )
        .bind(folder.0)
        .fetch_one(&mut *tx)
        .await
        .ctx(WHAT)?;
        Ok(FolderStatus {
            folder: found,
            messages: int(messages, WHAT)?,
            unseen: int(unseen, WHAT)?,
            deleted: int(deleted, WHAT)?,
            size: int(size, WHAT)?,
        })
    }

    async fn unseen_counts(&self, folder: FolderId) -> Result<(u32, u32), StoreError> {
        const WHAT: &str = "counting unseen messages";
        let (messages, unseen): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), \
             COALESCE(SUM(CASE WHEN system_flags & 1 = 0 THEN 1 ELSE 0 END), 0) \
             FROM messages WHERE folder_id = ?1",
        )
        .bind(folder.0)
        .fetch_one(&self.pool)
        .await
        .ctx(WHAT)?;
        Ok((int(messages, WHAT)?, int(unseen, WHAT)?))
    }

    async fn select_view(&self, folder: FolderId) -> Result<SelectView, StoreError> {
        const WHAT: &str = "reading a folder for SELECT";
        if self.cache.holds(folder) {
            // A folder a FETCH read recently: its cached view, brought up to date, has it all.
            let view = self
                .fetch_view(folder, &UidSet::from_uids([]), FetchParts::NONE)
                .await?;
            return Ok(select_view_of(&view));
        }
        // Aggregates rather than rows: sqlx costs about a microsecond per value returned, so
        // 100,000 UIDs come back as one text value, split here.
        let mut tx = self.pool.begin().await.ctx(WHAT)?;
        require_folder(&mut *tx, folder).await?;
        let (uids, first_unseen): (Option<String>, Option<i64>) = sqlx::query_as(
            "SELECT group_concat(uid, ' ' ORDER BY uid), \
             MIN(CASE WHEN system_flags & 1 = 0 THEN uid END) \
             FROM messages WHERE folder_id = ?1",
        )
        .bind(folder.0)
        .fetch_one(&mut *tx)
        .await
        .ctx(WHAT)?;
        let keyword_lists: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT keywords FROM messages WHERE folder_id = ?1 AND keywords <> ''",
        )
        .bind(folder.0)
        .fetch_all(&mut *tx)
        .await
        .ctx(WHAT)?;
        let uids = uids
            .unwrap_or_default()
            .split_ascii_whitespace()
            .map(|uid| {
                uid.parse()
                    .map_err(|_| StoreError::backend(WHAT, format!("bad UID {uid:?}")))
            })
            .collect::<Result<Vec<u32>, _>>()?;
        let mut keywords = BTreeSet::new();
        for (list,) in keyword_lists {
            keywords.extend(flags_from_columns(0, &list)?.keywords);
        }
        Ok(SelectView {
            uids,
            first_unseen: first_unseen.map(|uid| int(uid, WHAT)).transpose()?,
            keywords,
        })
    }

    async fn mailbox_usage(&self, mailbox: AddressId) -> Result<u64, StoreError> {
        let size: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(c.size), 0) FROM messages m \
             JOIN folders f ON f.id = m.folder_id JOIN contents c ON c.id = m.content_id \
             WHERE f.mailbox_id = ?1",
        )
        .bind(mailbox.0)
        .fetch_one(&self.pool)
        .await
        .ctx("measuring a mailbox")?;
        int(size, "measuring a mailbox")
    }

    async fn deliver(
        &self,
        raw: &[u8],
        index: &MessageIndex,
        targets: &[DeliveryTarget],
        flags: &Flags,
        internal_date: i64,
    ) -> Result<Vec<Stored>, StoreError> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let targets = targets.iter().cloned().map(Target::Mailbox).collect();
        let stored = self
            .store(raw, index, targets, flags, internal_date, None)
            .await?;
        Ok(stored.into_iter().flatten().collect())
    }

    async fn deliver_once(
        &self,
        raw: &[u8],
        index: &MessageIndex,
        targets: &[DeliveryTarget],
        flags: &Flags,
        internal_date: i64,
        fingerprint: Fingerprint,
    ) -> Result<Vec<Option<Stored>>, StoreError> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let targets = targets.iter().cloned().map(Target::Mailbox).collect();
        self.store(raw, index, targets, flags, internal_date, Some(fingerprint))
            .await
    }

    async fn append(
        &self,
        folder: FolderId,
        raw: &[u8],
        index: &MessageIndex,
        flags: &Flags,
        internal_date: i64,
    ) -> Result<Stored, StoreError> {
        let stored = self
            .store(
                raw,
                index,
                vec![Target::Folder(folder)],
                flags,
                internal_date,
                None,
            )
            .await?;
        stored
            .into_iter()
            .flatten()
            .next()
            .ok_or_else(|| StoreError::backend("appending a message", "no message was stored"))
    }

    async fn list_messages(
        &self,
        folder: FolderId,
        uids: &UidSet,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let Some((low, high)) = uids.bounds() else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT m.uid, m.modseq, m.system_flags, m.keywords, m.internal_date, m.saved_at, \
             c.size, c.hash, c.subject, c.from_addr, c.sent_date, c.has_attachments \
             FROM messages m JOIN contents c ON c.id = m.content_id \
             WHERE m.folder_id = ?1 AND m.uid BETWEEN ?2 AND ?3 ORDER BY m.uid",
        )
        .bind(folder.0)
        .bind(i64::from(low))
        .bind(i64::from(high))
        .fetch_all(&self.pool)
        .await
        .ctx("listing messages")?;
        if rows.is_empty() {
            require_folder(&self.pool, folder).await?;
        }
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            let meta = meta_from_row(row)?;
            if uids.contains(meta.uid) {
                messages.push(meta);
            }
        }
        Ok(messages)
    }

    async fn message_indexes(
        &self,
        folder: FolderId,
        uids: &UidSet,
    ) -> Result<Vec<(u32, MessageIndex)>, StoreError> {
        const WHAT: &str = "reading message indexes";
        let Some((low, high)) = uids.bounds() else {
            return Ok(Vec::new());
        };
        // The search text is left out: it can be megabytes per message and only full-text
        // search reads it, through `search_text`.
        let rows: Vec<(i64, Vec<u8>, i64, String)> = sqlx::query_as(
            "SELECT m.uid, c.idx, c.id, c.hash FROM messages m \
             JOIN contents c ON c.id = m.content_id \
             WHERE m.folder_id = ?1 AND m.uid BETWEEN ?2 AND ?3 ORDER BY m.uid",
        )
        .bind(folder.0)
        .bind(i64::from(low))
        .bind(i64::from(high))
        .fetch_all(&self.pool)
        .await
        .ctx(WHAT)?;
        if rows.is_empty() {
            require_folder(&self.pool, folder).await?;
        }
        let mut indexes = Vec::with_capacity(rows.len());
        for (uid, bytes, id, hash) in rows {
            let uid: u32 = int(uid, WHAT)?;
            if !uids.contains(uid) {
                continue;
            }
            let mut index = match MessageIndex::from_bytes(&bytes) {
                Ok(index) => index,
                Err(error) => {
                    // An index from an older format (or damaged): the message itself is the
                    // truth, so parse it again rather than fail the FETCH.
                    tracing::warn!(%error, uid, "rebuilding a message index");
                    MessageIndex::parse(&read_content(&self.pool, &self.blobs, id, &hash).await?)
                }
            };
            // Indexes written before migration 4 still hold their text inline.
            index.search_text = String::new();
            indexes.push((uid, index));
        }
        Ok(indexes)
    }

    async fn fetch_view(
        &self,
        folder: FolderId,
        uids: &UidSet,
        parts: FetchParts,
    ) -> Result<FetchView, StoreError> {
        match self
            .cache
            .fetch_view(&self.pool, &self.blobs, folder, uids, parts)
            .await?
        {
            Answer::Folder(view) => Ok(view),
            Answer::NoFolder => Err(no_folder(folder)),
        }
    }

    async fn read_message(&self, folder: FolderId, uid: u32) -> Result<Vec<u8>, StoreError> {
        // One statement, so the inline body and the row that names it come from one snapshot.
        let row: Option<(String, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT c.hash, b.body FROM messages m JOIN contents c ON c.id = m.content_id \
             LEFT JOIN content_bodies b ON b.content_id = c.id \
             WHERE m.folder_id = ?1 AND m.uid = ?2",
        )
        .bind(folder.0)
        .bind(i64::from(uid))
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a message")?;
        let (hash, body) = row.ok_or_else(|| {
            StoreError::NotFound(format!(
                "there is no message with UID {uid} in folder {folder}"
            ))
        })?;
        if let Some(body) = body {
            return Ok(body);
        }
        let blob = BlobId::parse(&hash).ok_or_else(|| {
            StoreError::backend("reading a message", format!("bad blob id {hash:?}"))
        })?;
        self.blobs.read(&blob).await
    }

    async fn set_flags(
        &self,
        folder: FolderId,
        uids: &UidSet,
        op: FlagOp,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<FlagUpdate, StoreError> {
        let (uids, flags) = (uids.clone(), flags.clone());
        self.writer
            .write(move |conn| {
                Box::pin(set_flags_tx(conn, folder, uids, op, flags, unchanged_since))
            })
            .await
    }

    async fn expunge(
        &self,
        folder: FolderId,
        uids: Option<&UidSet>,
    ) -> Result<Expunged, StoreError> {
        let uids = uids.cloned();
        self.writer
            .write(move |conn| Box::pin(expunge_tx(conn, folder, uids)))
            .await
    }

    async fn copy_messages(
        &self,
        from: FolderId,
        uids: &UidSet,
        to: FolderId,
    ) -> Result<Copied, StoreError> {
        let uids = uids.clone();
        self.writer
            .write(move |conn| Box::pin(transfer_tx(conn, from, uids, to, Transfer::Copy)))
            .await
    }

    async fn move_messages(
        &self,
        from: FolderId,
        uids: &UidSet,
        to: FolderId,
    ) -> Result<Copied, StoreError> {
        let uids = uids.clone();
        self.writer
            .write(move |conn| Box::pin(transfer_tx(conn, from, uids, to, Transfer::Move)))
            .await
    }

    async fn vanished_since(&self, folder: FolderId, modseq: u64) -> Result<Vec<u32>, StoreError> {
        const WHAT: &str = "listing expunged messages";
        let modseq = i64::try_from(modseq).unwrap_or(i64::MAX);
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT uid FROM expunged WHERE folder_id = ?1 AND modseq > ?2 ORDER BY uid",
        )
        .bind(folder.0)
        .bind(modseq)
        .fetch_all(&self.pool)
        .await
        .ctx(WHAT)?;
        if uids.is_empty() {
            require_folder(&self.pool, folder).await?;
        }
        uids.into_iter().map(|uid| int(uid, WHAT)).collect()
    }

    async fn search_text(&self, folder: FolderId, needle: &str) -> Result<Vec<u32>, StoreError> {
        search::search_folder(
            &self.pool,
            &self.blobs,
            folder,
            search::Scope::Anywhere,
            needle,
        )
        .await
    }

    async fn search_body(&self, folder: FolderId, needle: &str) -> Result<Vec<u32>, StoreError> {
        search::search_folder(&self.pool, &self.blobs, folder, search::Scope::Body, needle).await
    }
}

#[cfg(test)]
mod create_folder_with_use_tests {
    use postwerk_model::SpecialUse;

    use crate::StoreError;
    use crate::sqlite::fixture::mailbox_toto;
    use crate::sqlite::open_sqlite;

    #[tokio::test]
    async fn a_special_use_is_given_to_a_new_folder_only_while_no_folder_holds_it() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = open_sqlite(dir.path()).await.expect("open");
        let mail = &*stores.mail;
        let toto = mailbox_toto(&stores, 1).await;

        // ADDR-11: the default Sent folder holds \Sent, so a second one is refused, naming it,
        // and nothing is created.
        let refused = mail
            .create_folder_with_use(toto.id, "Outbox/Sent mail", SpecialUse::Sent)
            .await;
        match refused {
            Err(StoreError::Refused(why)) => assert!(why.contains("Sent"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        let names = |folders: Vec<crate::Folder>| -> Vec<String> {
            folders.into_iter().map(|f| f.name).collect()
        };
        let before = names(mail.list_folders(toto.id).await.expect("list"));
        assert!(
            !before.iter().any(|n| n.starts_with("Outbox")),
            "{before:?}"
        );

        // Once the default Sent folder is gone, the use is free again; the parent is created
        // without a special use.
        let sent = mail
            .folder_by_name(toto.id, "Sent")
            .await
            .expect("lookup")
            .expect("default Sent folder");
        mail.delete_folder(sent.id).await.expect("delete Sent");
        let created = mail
            .create_folder_with_use(toto.id, "Outbox/Sent mail", SpecialUse::Sent)
            .await
            .expect("create with \\Sent");
        assert_eq!(created.special_use, Some(SpecialUse::Sent));
        assert!(created.subscribed);
        let listed = mail.list_folders(toto.id).await.expect("list");
        let role = |name: &str| {
            listed
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.special_use)
        };
        assert_eq!(role("Outbox/Sent mail"), Some(Some(SpecialUse::Sent)));
        assert_eq!(role("Outbox"), Some(None));

        // An existing name stays a conflict, whatever the use asked for.
        assert!(matches!(
            mail.create_folder_with_use(toto.id, "Outbox", SpecialUse::Drafts)
                .await,
            Err(StoreError::Conflict(_))
        ));
        stores.close().await;
    }
}
