//! The folder cache: per folder, what FETCH of FLAGS, UID, MODSEQ, RFC822.SIZE, INTERNALDATE,
//! SAVEDATE, ENVELOPE and BODYSTRUCTURE needs ([`FetchView`]), shared by every session of the
//! process and bounded in memory.
//!
//! ```text
//!  fetch_view(folder, uids, parts)
//!    ├─ read transaction: SELECT uid_next, highest_modseq FROM folders   (the check, each call)
//!    ├─ cached view at that HIGHESTMODSEQ ─────────────────────────────► shared, no copy
//!    ├─ cached view older ─► rows with MODSEQ above it + UIDs expunged above it, applied to
//!    │                       a copy of the chunks they touch (count checked; reload if off)
//!    ├─ not cached ─► every message's metadata, and the indexes of `uids` rendered
//!    │                (ENVELOPE, BODYSTRUCTURE), in one pass of a few statements
//!    ├─ parts missing for `uids` ─► their indexes, rendered once
//!    └─ install (LRU by octets across folders)
//! ```
//!
//! **Never stale.** Every change to a folder's messages raises its HIGHESTMODSEQ in the same
//! transaction (RFC 7162), stamps the changed rows with the new MODSEQ, and records expunged
//! UIDs with theirs in `expunged`; a message's content (hence its ENVELOPE and BODYSTRUCTURE)
//! never changes. So a view read at HIGHESTMODSEQ `m` is exact as long as the folder is still
//! at `m`, and the rows above `m` are exactly what changed. The check reads the database,
//! not an in-process counter, so writes by another process (the admin CLI) are seen too.
//! All reads of one call come from one read transaction, hence one snapshot.
//!
//! **Cheap reads.** sqlx hands each row from its SQLite thread to the caller through a
//! channel and copies every value, about a microsecond per value; a folder is read as one
//! aggregated value per statement instead (`group_concat` of length-prefixed messages, see
//! `packed_message!`), split here. Loading reads each message's content row once, for its
//! size and its index together.
//!
//! **Bounded.** The views of all folders together stay under the configured budget: the
//! least recently used folders are dropped first, and a folder whose view would not fit at
//! all is never cached — its commands get views of the UIDs they ask for, built the same
//! way, [`PARTIAL_VIEW`] messages at a time.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use postwerk_message::{MessageIndex, write_bodystructure, write_envelope};
use postwerk_model::FolderId;
use sqlx::{Executor, Row, Sqlite, SqlitePool, Transaction};

use super::contents::read_content;
use super::int;
use crate::error::Context;
use crate::view::{Changes, Part, Record, ViewBuilder};
use crate::{BlobStore, FetchParts, FetchView, Keyword, StoreError, SystemFlags, UidSet};

/// The default budget: about 140,000 messages with their ENVELOPE (some 460 octets each).
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Refresh locks: one per folder would need cleaning up; a fixed set, picked by folder id,
/// only rarely makes two folders wait for each other.
const STRIPES: usize = 64;

/// Messages whose indexes are read in one statement (about half a megabyte).
const PARTS_BATCH: usize = 1000;

/// Messages in a view of a folder too large for the cache: one FETCH slice's worth, so memory
/// stays bounded by the slice whatever the folder's size.
const PARTIAL_VIEW: usize = 2000;

/// What a message costs in a view before its rendered parts, and what each part is assumed to
/// cost when deciding whether a folder fits (measured on ordinary mail: ENVELOPE about 350
/// octets, BODYSTRUCTURE of a text message about 100, of a multipart a few hundred).
const RECORD_ESTIMATE: usize = 96;
const ENVELOPE_ESTIMATE: usize = 400;
const BODY_STRUCTURE_ESTIMATE: usize = 300;

/// The per-folder views of one store.
#[derive(Debug)]
pub(super) struct FolderCache {
    budget: usize,
    /// Messages per view of a folder too large for the cache ([`PARTIAL_VIEW`]).
    partial: usize,
    state: Mutex<State>,
    stripes: Vec<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Default)]
struct State {
    folders: HashMap<FolderId, Cached>,
    /// Octets of all cached views.
    used: usize,
    /// Advances on every use: the LRU clock.
    tick: u64,
    /// Folders whose view turned out larger than the budget, with the octets per message
    /// seen: the estimate was wrong for them, and loading them again and again (each slice
    /// of a FETCH) would cost more than reading just the UIDs asked.
    oversized: HashMap<FolderId, usize>,
}

/// Folders remembered as too large before the list starts over.
const OVERSIZED_MAX: usize = 4096;

#[derive(Debug)]
struct Cached {
    view: FetchView,
    used_at: u64,
}

/// A view answered to a caller.
pub(super) enum Answer {
    /// A view of the folder: its cached view, or one of the UIDs asked when the folder does
    /// not fit in the cache.
    Folder(FetchView),
    /// The folder does not exist.
    NoFolder,
}

impl FolderCache {
    /// A cache holding at most `budget` octets of views; 0 disables it.
    pub(super) fn new(budget: usize) -> FolderCache {
        FolderCache {
            budget,
            partial: PARTIAL_VIEW,
            state: Mutex::new(State::default()),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing done under the lock can panic halfway (plain bookkeeping), so a poisoned
        // lock still guards consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached view of `folder`, marked as used.
    fn cached(&self, folder: FolderId) -> Option<FetchView> {
        let mut state = self.state();
        state.tick += 1;
        let tick = state.tick;
        let cached = state.folders.get_mut(&folder)?;
        cached.used_at = tick;
        Some(cached.view.clone())
    }

    /// Whether the folder has a view in the cache.
    pub(super) fn holds(&self, folder: FolderId) -> bool {
        self.state().folders.contains_key(&folder)
    }

    fn forget(&self, folder: FolderId) {
        let mut state = self.state();
        if let Some(old) = state.folders.remove(&folder) {
            state.used -= old.view.bytes();
        }
    }

    /// Keeps `view` as the folder's, unless a newer one is there already; drops the least
    /// recently used folders until the budget holds. A view larger than the budget is not
    /// kept (and the folder's older one dropped).
    fn install(&self, folder: FolderId, view: &FetchView) {
        let mut state = self.state();
        if view.bytes() > self.budget || self.budget == 0 {
            if let Some(old) = state.folders.remove(&folder) {
                state.used -= old.view.bytes();
            }
            if state.oversized.len() >= OVERSIZED_MAX {
                state.oversized.clear();
            }
            state
                .oversized
                .insert(folder, view.bytes() / view.len().max(1));
            tracing::debug!(
                %folder,
                messages = view.len(),
                bytes = view.bytes(),
                "folder view larger than the cache; not kept"
            );
            return;
        }
        state.tick += 1;
        let tick = state.tick;
        match state.folders.get(&folder) {
            Some(old) if old.view.highest_modseq() > view.highest_modseq() => return,
            Some(old) => {
                let old_bytes = old.view.bytes();
                state.used -= old_bytes;
            }
            None => {}
        }
        state.used += view.bytes();
        state.folders.insert(
            folder,
            Cached {
                view: view.clone(),
                used_at: tick,
            },
        );
        while state.used > self.budget {
            let Some(victim) = state
                .folders
                .iter()
                .filter(|(id, _)| **id != folder)
                .min_by_key(|(_, cached)| cached.used_at)
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some(old) = state.folders.remove(&victim) {
                state.used -= old.view.bytes();
            }
        }
    }

    /// A view of `folder` from one snapshot that answers for every message of `uids` up to
    /// its [`FetchView::covered`] bound, with `parts`. Cached folders are checked and brought
    /// up to date; a folder not cached is loaded if it fits in the budget, with the parts of
    /// `uids` rendered in the same pass. Both answer for all of `uids`. A folder that does not
    /// fit gets a view of the messages from the first of `uids` on, at most [`PARTIAL_VIEW`]
    /// of them, not cached.
    pub(super) async fn fetch_view(
        &self,
        pool: &SqlitePool,
        blobs: &Arc<dyn BlobStore>,
        folder: FolderId,
        uids: &UidSet,
        parts: FetchParts,
    ) -> Result<Answer, StoreError> {
        // The common case first, without waiting for anyone: a cached view that is current
        // and holds the parts asked.
        if let Some(view) = self.cached(folder) {
            match point(pool, folder).await? {
                None => {
                    self.forget(folder);
                    return Ok(Answer::NoFolder);
                }
                Some(at) if at == (view.highest_modseq(), view.uid_next()) => {
                    if view.missing(uids, parts).is_empty() {
                        return Ok(Answer::Folder(view));
                    }
                }
                Some(_) => {}
            }
        }
        // One load or refresh of a folder at a time: the others wait and take its result.
        let refreshing = match self.budget {
            0 => None,
            _ => Some(self.stripes[stripe(folder)].lock().await),
        };
        let mut tx = pool.begin().await.ctx(WHAT)?;
        let Some(at) = point(&mut *tx, folder).await? else {
            self.forget(folder);
            return Ok(Answer::NoFolder);
        };
        let (modseq, uid_next) = at;
        let whole = |render| Scope {
            uids: (1, u32::MAX),
            limit: None,
            render,
        };
        let mut keywords = KeywordTable::default();
        let mut view = match self.cached(folder) {
            Some(view) if (view.highest_modseq(), view.uid_next()) == at => view,
            Some(view) if view.highest_modseq() < modseq => {
                match refresh(&mut tx, &mut keywords, folder, &view, modseq, uid_next).await? {
                    Some(view) => view,
                    None => load(&mut tx, blobs, folder, at, whole(uids), parts).await?,
                }
            }
            cached => {
                if cached.is_some() {
                    // Ahead of the database, or at its MODSEQ with another UIDNEXT: the file
                    // was replaced under us.
                    tracing::warn!(
                        %folder,
                        "cached folder view does not match the database; reloading"
                    );
                }
                let fits = self.budget > 0
                    && self.fits(folder, message_count(&mut tx, folder).await?, parts);
                if !fits {
                    self.forget(folder);
                    // Nothing will be shared: no other reader needs to wait for this one.
                    drop(refreshing);
                    let scope = Scope {
                        uids: uids.bounds().unwrap_or((1, 0)),
                        limit: Some(self.partial),
                        render: uids,
                    };
                    let view = load(&mut tx, blobs, folder, at, scope, parts).await?;
                    return Ok(Answer::Folder(view));
                }
                load(&mut tx, blobs, folder, at, whole(uids), parts).await?
            }
        };
        view = fill(&mut tx, blobs, folder, view, uids, parts).await?;
        drop(tx);
        self.install(folder, &view);
        Ok(Answer::Folder(view))
    }

    /// Whether `folder`, holding `count` messages, with `parts` rendered for all of them, fits
    /// in the budget: by the usual cost per message, or by what it cost when it was found too
    /// large.
    fn fits(&self, folder: FolderId, count: usize, parts: FetchParts) -> bool {
        let mut per_message = RECORD_ESTIMATE;
        if parts.envelope {
            per_message += ENVELOPE_ESTIMATE;
        }
        if parts.body_structure {
            per_message += BODY_STRUCTURE_ESTIMATE;
        }
        if let Some(seen) = self.state().oversized.get(&folder) {
            per_message = per_message.max(*seen);
        }
        self.budget > 0 && count.saturating_mul(per_message) <= self.budget
    }
}

const WHAT: &str = "reading a folder view";

fn stripe(folder: FolderId) -> usize {
    usize::try_from(folder.0.rem_euclid(STRIPES as i64)).unwrap_or(0)
}

/// The folder's `(HIGHESTMODSEQ, UIDNEXT)`: the point a view is read at. `None` if the folder
/// does not exist.
async fn point<'e, E>(e: E, folder: FolderId) -> Result<Option<(u64, u32)>, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT highest_modseq, uid_next FROM folders WHERE id = ?1")
            .bind(folder.0)
            .fetch_optional(e)
            .await
            .ctx(WHAT)?;
    row.map(|(modseq, uid_next)| Ok((int(modseq, WHAT)?, int(uid_next, WHAT)?)))
        .transpose()
}

async fn message_count(
    tx: &mut Transaction<'_, Sqlite>,
    folder: FolderId,
) -> Result<usize, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE folder_id = ?1")
        .bind(folder.0)
        .fetch_one(&mut **tx)
        .await
        .ctx(WHAT)?;
    int(count, WHAT)
}

/// One message packed into octets: eight numbers, each followed by a space — UID, MODSEQ,
/// system flags, INTERNALDATE, SAVEDATE, size, the length of the keywords and the length of
/// the stored index (-1 when `$index` is false: not read) — then the keywords and the index.
/// Everything is length-prefixed, so index octets never need escaping.
macro_rules! packed_message {
    ($index:literal) => {
        concat!(
            "printf('%d %d %d %d %d %d %d %d ', m.uid, m.modseq, m.system_flags, \
             m.internal_date, m.saved_at, c.size, length(CAST(m.keywords AS BLOB)), \
             CASE WHEN ",
            $index,
            " THEN length(CAST(c.idx AS BLOB)) ELSE -1 END) || CAST(m.keywords AS BLOB) \
             || CASE WHEN ",
            $index,
            " THEN CAST(c.idx AS BLOB) ELSE x'' END"
        )
    };
}

/// Up to `?6` messages of folder `?1` with UIDs in `?2 < uid <= ?3`, ascending, packed into
/// one value, with the index of those in `?4..=?5`; then the last UID and the count, to go on
/// from there. (A value per statement, not a row per message: see the module comment.)
const LOAD: &str = concat!(
    "SELECT group_concat(packed, ''), max(uid), count(*) FROM (SELECT m.uid AS uid, ",
    packed_message!("m.uid BETWEEN ?4 AND ?5"),
    " AS packed FROM messages m JOIN contents c ON c.id = m.content_id \
     WHERE m.folder_id = ?1 AND m.uid > ?2 AND m.uid <= ?3 ORDER BY m.uid LIMIT ?6)"
);

/// The messages of folder `?1` changed after MODSEQ `?2`, packed, without their indexes.
const CHANGED: &str = concat!(
    "SELECT group_concat(",
    packed_message!("0"),
    ", '') FROM messages m JOIN contents c ON c.id = m.content_id \
     WHERE m.folder_id = ?1 AND m.modseq > ?2"
);

/// The messages of folder `?1` with UIDs in `?2..=?3`, packed, with their indexes.
const INDEXES: &str = concat!(
    "SELECT group_concat(",
    packed_message!("1"),
    ", '') FROM messages m JOIN contents c ON c.id = m.content_id \
     WHERE m.folder_id = ?1 AND m.uid BETWEEN ?2 AND ?3"
);

/// Messages per statement when loading a folder: about a megabyte with their indexes.
const LOAD_BATCH: i64 = 2000;

/// Which messages a load reads.
struct Scope<'a> {
    /// The UIDs read, inclusive; the view answers for them.
    uids: (u32, u32),
    /// At most this many messages: the view then answers up to the last one read.
    limit: Option<usize>,
    /// The messages whose parts are rendered.
    render: &'a UidSet,
}

/// The folder's messages of `scope`, as a view, with `parts` rendered for those of
/// `scope.render`, all read in one pass: the row of a message's content, which holds its
/// size, is read once for the size and the index together.
async fn load(
    tx: &mut Transaction<'_, Sqlite>,
    blobs: &Arc<dyn BlobStore>,
    folder: FolderId,
    (modseq, uid_next): (u64, u32),
    scope: Scope<'_>,
    parts: FetchParts,
) -> Result<FetchView, StoreError> {
    let (low, high) = scope.uids;
    let mut keywords = KeywordTable::default();
    let (render_low, render_high) = match scope.render.bounds() {
        Some(bounds) if !parts.is_empty() => bounds,
        _ => (1, 0),
    };
    let mut wanted = Cursor::new(scope.render);
    let mut records = Vec::new();
    let mut left = scope.limit.unwrap_or(usize::MAX);
    let mut after = i64::from(low) - 1;
    let mut covered = high;
    while after < i64::from(high) && left > 0 {
        let batch = LOAD_BATCH.min(i64::try_from(left).unwrap_or(LOAD_BATCH));
        let row = sqlx::query(LOAD)
            .bind(folder.0)
            .bind(after)
            .bind(i64::from(high))
            .bind(i64::from(render_low))
            .bind(i64::from(render_high))
            .bind(batch)
            .fetch_one(&mut **tx)
            .await
            .ctx(WHAT)?;
        let packed: Option<&[u8]> = row.try_get(0).ctx(WHAT)?;
        let last: Option<i64> = row.try_get(1).ctx(WHAT)?;
        let count: i64 = row.try_get(2).ctx(WHAT)?;
        for Packed { mut record, index } in parse_packed(packed.unwrap_or_default(), &mut keywords)?
        {
            if let Some(index) = index
                && wanted.contains(record.uid)
            {
                (record.envelope, record.body_structure) =
                    render_parts(tx, blobs, folder, record.uid, index, parts).await?;
            }
            records.push(record);
        }
        left = left.saturating_sub(usize::try_from(count).unwrap_or(usize::MAX));
        match last {
            Some(last) if count >= batch => {
                after = last;
                if left == 0 {
                    // The limit is reached: the view answers up to the last message read.
                    covered = int(last, WHAT)?;
                }
            }
            _ => break,
        }
    }
    let mut builder = ViewBuilder::new(modseq, uid_next, (low, covered));
    for record in records {
        builder.push(record);
    }
    Ok(builder.finish())
}

/// `view` brought from its HIGHESTMODSEQ to `modseq`: the rows changed since and the UIDs
/// expunged since. `None` when the result does not count the folder's messages right (it
/// then has to be read again in full).
async fn refresh(
    tx: &mut Transaction<'_, Sqlite>,
    keywords: &mut KeywordTable,
    folder: FolderId,
    view: &FetchView,
    modseq: u64,
    uid_next: u32,
) -> Result<Option<FetchView>, StoreError> {
    let since = i64::try_from(view.highest_modseq()).map_err(|e| StoreError::backend(WHAT, e))?;
    let row = sqlx::query(CHANGED)
        .bind(folder.0)
        .bind(since)
        .fetch_one(&mut **tx)
        .await
        .ctx(WHAT)?;
    let packed: Option<&[u8]> = row.try_get(0).ctx(WHAT)?;
    let upserted = parse_packed(packed.unwrap_or_default(), keywords)?
        .into_iter()
        .map(|p| p.record)
        .collect();
    let expunged: Option<String> = sqlx::query_scalar(
        "SELECT group_concat(uid, ' ') FROM expunged WHERE folder_id = ?1 AND modseq > ?2",
    )
    .bind(folder.0)
    .bind(since)
    .fetch_one(&mut **tx)
    .await
    .ctx(WHAT)?;
    let removed = expunged
        .unwrap_or_default()
        .split_ascii_whitespace()
        .map(|uid| {
            uid.parse()
                .map_err(|_| StoreError::backend(WHAT, format!("bad UID {uid:?}")))
        })
        .collect::<Result<Vec<u32>, _>>()?;
    let refreshed = view.apply(Changes {
        removed,
        upserted,
        parts: Vec::new(),
        modseq: Some(modseq),
        uid_next: Some(uid_next),
    });
    let count = message_count(tx, folder).await?;
    if count != refreshed.len() {
        tracing::warn!(
            %folder,
            count,
            held = refreshed.len(),
            "folder view disagrees with the database after a refresh; reloading"
        );
        return Ok(None);
    }
    Ok(Some(refreshed))
}

/// `view` with `parts` rendered for every message of `uids` it holds without them.
async fn fill(
    tx: &mut Transaction<'_, Sqlite>,
    blobs: &Arc<dyn BlobStore>,
    folder: FolderId,
    view: FetchView,
    uids: &UidSet,
    parts: FetchParts,
) -> Result<FetchView, StoreError> {
    let missing = view.missing(uids, parts);
    if missing.is_empty() {
        return Ok(view);
    }
    let mut changes = Changes::default();
    let mut keywords = KeywordTable::default();
    for batch in missing.chunks(PARTS_BATCH) {
        let (low, high) = (batch[0], batch[batch.len() - 1]);
        let row = sqlx::query(INDEXES)
            .bind(folder.0)
            .bind(i64::from(low))
            .bind(i64::from(high))
            .fetch_one(&mut **tx)
            .await
            .ctx(WHAT)?;
        let packed: Option<&[u8]> = row.try_get(0).ctx(WHAT)?;
        for Packed { record, index } in parse_packed(packed.unwrap_or_default(), &mut keywords)? {
            let uid = record.uid;
            let Some(index) = index.filter(|_| batch.binary_search(&uid).is_ok()) else {
                continue;
            };
            let (envelope, body_structure) =
                render_parts(tx, blobs, folder, uid, index, parts).await?;
            changes
                .parts
                .extend(envelope.map(|b| (uid, Part::Envelope, b)));
            changes
                .parts
                .extend(body_structure.map(|b| (uid, Part::BodyStructure, b)));
        }
    }
    Ok(view.apply(changes))
}

/// The `parts` of one message, rendered in IMAP syntax from its stored index.
async fn render_parts(
    tx: &mut Transaction<'_, Sqlite>,
    blobs: &Arc<dyn BlobStore>,
    folder: FolderId,
    uid: u32,
    stored: &[u8],
    parts: FetchParts,
) -> Result<(Option<Arc<[u8]>>, Option<Arc<[u8]>>), StoreError> {
    let index = match MessageIndex::from_bytes(stored) {
        Ok(index) => index,
        Err(error) => {
            // An index from an older format (or damaged): the message itself is the truth,
            // so parse it again rather than fail the FETCH.
            tracing::warn!(%error, uid, "rebuilding a message index");
            reparse(tx, blobs, folder, uid).await?
        }
    };
    let envelope = parts.envelope.then(|| {
        let mut out = Vec::with_capacity(stored.len() / 2);
        write_envelope(&index.envelope, &mut out);
        Arc::from(out)
    });
    let body_structure = parts.body_structure.then(|| {
        let mut out = Vec::with_capacity(stored.len() / 4);
        write_bodystructure(&index.body, true, &mut out);
        Arc::from(out)
    });
    Ok((envelope, body_structure))
}

/// The index of one message parsed again from its content.
async fn reparse(
    tx: &mut Transaction<'_, Sqlite>,
    blobs: &Arc<dyn BlobStore>,
    folder: FolderId,
    uid: u32,
) -> Result<MessageIndex, StoreError> {
    let (id, hash): (i64, String) = sqlx::query_as(
        "SELECT c.id, c.hash FROM messages m JOIN contents c ON c.id = m.content_id \
         WHERE m.folder_id = ?1 AND m.uid = ?2",
    )
    .bind(folder.0)
    .bind(i64::from(uid))
    .fetch_one(&mut **tx)
    .await
    .ctx(WHAT)?;
    Ok(MessageIndex::parse(
        &read_content(&mut **tx, blobs, id, &hash).await?,
    ))
}

/// One message as read packed: its record (without parts) and its stored index, if read.
struct Packed<'a> {
    record: Record,
    index: Option<&'a [u8]>,
}

/// The messages of a packed value (see [`packed_message`]), ascending by UID.
fn parse_packed<'a>(
    mut rest: &'a [u8],
    keywords: &mut KeywordTable,
) -> Result<Vec<Packed<'a>>, StoreError> {
    let bad = || StoreError::backend(WHAT, "malformed packed messages");
    let take = |rest: &mut &'a [u8], len: usize| -> Result<&'a [u8], StoreError> {
        let (taken, after) = rest.split_at_checked(len).ok_or_else(bad)?;
        *rest = after;
        Ok(taken)
    };
    let mut messages = Vec::new();
    while !rest.is_empty() {
        let mut numbers = [0_i64; 8];
        for number in &mut numbers {
            let end = rest.iter().position(|&b| b == b' ').ok_or_else(bad)?;
            *number = std::str::from_utf8(&rest[..end])
                .ok()
                .and_then(|n| n.parse().ok())
                .ok_or_else(bad)?;
            rest = &rest[end + 1..];
        }
        let [
            uid,
            modseq,
            flags,
            internal_date,
            saved_at,
            size,
            keywords_len,
            index_len,
        ] = numbers;
        let keyword_text = take(&mut rest, usize::try_from(keywords_len).map_err(|_| bad())?)?;
        let keyword_text = std::str::from_utf8(keyword_text).map_err(|_| bad())?;
        let index = match usize::try_from(index_len) {
            Ok(len) => Some(take(&mut rest, len)?),
            Err(_) => None,
        };
        messages.push(Packed {
            record: Record {
                uid: int(uid, WHAT)?,
                system: SystemFlags::from_bits(int(flags, WHAT)?),
                modseq: int(modseq, WHAT)?,
                internal_date,
                saved_at,
                size: int(size, WHAT)?,
                keywords: keywords.get(keyword_text)?,
                envelope: None,
                body_structure: None,
            },
            index,
        });
    }
    if !messages.is_sorted_by_key(|m| m.record.uid) {
        messages.sort_unstable_by_key(|m| m.record.uid);
    }
    Ok(messages)
}

/// Walks a [`UidSet`] alongside ascending UIDs.
struct Cursor<'a> {
    ranges: &'a [(u32, u32)],
}

impl<'a> Cursor<'a> {
    fn new(set: &'a UidSet) -> Cursor<'a> {
        Cursor {
            ranges: set.ranges(),
        }
    }

    /// Whether `uid` is in the set; UIDs must be asked in ascending order.
    fn contains(&mut self, uid: u32) -> bool {
        while let Some(&(_, last)) = self.ranges.first() {
            if uid <= last {
                return uid >= self.ranges[0].0;
            }
            self.ranges = &self.ranges[1..];
        }
        false
    }
}

/// Keyword lists as stored, validated and shared: each distinct list is checked once and
/// kept once.
#[derive(Default)]
struct KeywordTable(HashMap<Box<str>, Option<Arc<str>>>);

impl KeywordTable {
    fn get(&mut self, text: &str) -> Result<Option<Arc<str>>, StoreError> {
        if text.is_empty() {
            return Ok(None);
        }
        if let Some(shared) = self.0.get(text) {
            return Ok(shared.clone());
        }
        let set = text
            .split_ascii_whitespace()
            .map(|k| {
                Keyword::parse(k)
                    .ok_or_else(|| StoreError::backend(WHAT, format!("bad keyword {k:?}")))
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        let normal = set
            .iter()
            .map(Keyword::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        // Stored lists are already in this form; another spelling of a known set shares it.
        let shared = match self.0.get(normal.as_str()) {
            Some(known) => known.clone(),
            None => {
                let shared: Option<Arc<str>> = (!normal.is_empty()).then(|| Arc::from(&*normal));
                self.0.insert(normal.into(), shared.clone());
                shared
            }
        };
        self.0.insert(text.into(), shared.clone());
        Ok(shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_messages_parse_with_keywords_and_indexes() {
        let mut keywords = KeywordTable::default();
        let packed = b"7 12 1 1700000000 1700000001 3076 0 -1 \
                       3 9 5 -5 0 10 11 4 $Work $Junk\x00 \n\xff\
                       9 13 0 0 0 1 11 0 $Junk $Work";
        let messages = parse_packed(packed, &mut keywords).expect("parsed");
        let uids: Vec<u32> = messages.iter().map(|m| m.record.uid).collect();
        assert_eq!(uids, [3, 7, 9], "sorted");
        let seven = &messages[1].record;
        assert_eq!(seven.modseq, 12);
        assert_eq!(seven.system, SystemFlags::SEEN);
        assert_eq!(
            (seven.internal_date, seven.saved_at),
            (1700000000, 1700000001)
        );
        assert_eq!(seven.size, 3076);
        assert!(seven.keywords.is_none() && messages[1].index.is_none());
        assert_eq!(messages[0].record.internal_date, -5);
        assert_eq!(messages[0].index, Some(&b"\x00 \n\xff"[..]));
        assert_eq!(messages[2].index, Some(&b""[..]));
        // Normalised (ascending) and shared between equal sets.
        let (a, b) = (
            messages[0].record.keywords.as_ref().expect("a"),
            messages[2].record.keywords.as_ref().expect("b"),
        );
        assert_eq!(&**a, "$Junk $Work");
        assert!(Arc::ptr_eq(a, b));
        for bad in [
            &b"1 2 3"[..],
            b"1 2 3 4 5 6 0 9 short",
            b"1 2 3 4 5 6 11 -1 bad\\keyword",
            b"x 2 3 4 5 6 0 -1 ",
        ] {
            assert!(parse_packed(bad, &mut keywords).is_err(), "{bad:?}");
        }
        assert!(parse_packed(b"", &mut keywords).expect("empty").is_empty());
    }

    #[test]
    fn a_cursor_walks_the_set_with_ascending_uids() {
        let set = UidSet::from_ranges([(3, 5), (9, 9), (20, 30)]);
        let mut cursor = Cursor::new(&set);
        let found: Vec<u32> = (1..=40).filter(|&uid| cursor.contains(uid)).collect();
        let expected: Vec<u32> = (1..=40).filter(|&uid| set.contains(uid)).collect();
        assert_eq!(found, expected);
        assert!(!Cursor::new(&UidSet::from_uids([])).contains(1));
    }

    /// A folder too large for the cache is answered a slice at a time: each view answers from
    /// the first UID asked on, for at most `partial` messages, with the parts of those asked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_folder_too_large_is_answered_a_slice_at_a_time() {
        use crate::sqlite::{BLOB_FOLDER, DATABASE_FILE, fixture, read_pool};
        use crate::{DeliveryTarget, Flags, FsBlobStore};

        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = crate::open_sqlite(dir.path()).await.expect("open");
        let toto = fixture::mailbox_toto(&stores, 1).await;
        let mut folder = None;
        for n in 1..=7 {
            let raw = format!("Subject: m{n}\r\n\r\nBody {n}.\r\n");
            let index = MessageIndex::parse(raw.as_bytes());
            let stored = stores
                .mail
                .deliver(
                    raw.as_bytes(),
                    &index,
                    &[DeliveryTarget::inbox(toto.id)],
                    &Flags::none(),
                    0,
                )
                .await
                .expect("deliver");
            folder = Some(stored[0].folder);
        }
        let folder = folder.expect("delivered");
        let options =
            sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join(DATABASE_FILE));
        let pool = read_pool(dir.path(), options).await.expect("pool");
        let blobs: Arc<dyn BlobStore> =
            Arc::new(FsBlobStore::open(&dir.path().join(BLOB_FOLDER)).expect("blobs"));
        let cache = FolderCache {
            partial: 3,
            ..FolderCache::new(0)
        };
        let envelope = FetchParts {
            envelope: true,
            body_structure: false,
        };
        let view_of = |uids: &'static [u32]| {
            let (cache, pool, blobs) = (&cache, &pool, &blobs);
            async move {
                let set = UidSet::from_uids(uids.iter().copied());
                match cache.fetch_view(pool, blobs, folder, &set, envelope).await {
                    Ok(Answer::Folder(view)) => view,
                    _ => panic!("no view"),
                }
            }
        };
        let held = |view: &FetchView| -> Vec<(u32, bool)> {
            view.iter().map(|r| (r.uid, r.envelope.is_some())).collect()
        };
        let first = view_of(&[2, 3, 5, 6, 7]).await;
        assert_eq!(first.covered(), (2, 4));
        assert_eq!(held(&first), [(2, true), (3, true), (4, false)]);
        let rest = view_of(&[5, 6, 7]).await;
        assert_eq!(rest.covered(), (5, 7));
        assert_eq!(held(&rest), [(5, true), (6, true), (7, true)]);
        let last = view_of(&[7, 9]).await;
        assert_eq!(last.covered(), (7, 9), "fewer than the limit: all asked");
        assert!(!cache.holds(folder));
        pool.close().await;
        stores.close().await;
    }

    /// A view of `count` messages at `modseq`.
    fn view(count: u32, modseq: u64) -> FetchView {
        view_with(count, modseq, 300)
    }

    /// A view of `count` messages at `modseq` whose ENVELOPEs are `envelope` octets.
    fn view_with(count: u32, modseq: u64, envelope: usize) -> FetchView {
        let mut builder = ViewBuilder::new(modseq, count + 1, (1, u32::MAX));
        for uid in 1..=count {
            builder.push(Record {
                uid,
                system: SystemFlags::NONE,
                modseq,
                internal_date: 0,
                saved_at: 0,
                size: 1,
                keywords: None,
                envelope: Some(Arc::from(vec![b'x'; envelope])),
                body_structure: None,
            });
        }
        builder.finish()
    }

    #[test]
    fn the_least_recently_used_folders_go_first() {
        let one = view(10, 1).bytes();
        let cache = FolderCache::new(one * 3);
        for id in 1..=3 {
            cache.install(FolderId(id), &view(10, 1));
        }
        // Folder 1 used again: folder 2 is now the oldest.
        assert!(cache.cached(FolderId(1)).is_some());
        cache.install(FolderId(4), &view(10, 1));
        let held = |id| cache.holds(FolderId(id));
        assert!(held(1) && !held(2) && held(3) && held(4));
        assert_eq!(cache.state().used, one * 3);
        // A larger view of a folder replaces its old one and makes room.
        cache.install(FolderId(3), &view(20, 2));
        assert!(held(3) && !held(1) && held(4));
        assert!(cache.state().used <= one * 3);
    }

    #[test]
    fn a_view_larger_than_the_budget_is_not_kept_nor_an_older_one_over_a_newer() {
        let cache = FolderCache::new(view(10, 1).bytes());
        cache.install(FolderId(1), &view(10, 5));
        cache.install(FolderId(1), &view(9, 4));
        assert_eq!(cache.cached(FolderId(1)).map(|v| v.len()), Some(10));
        cache.install(FolderId(1), &view(11, 6));
        assert!(
            !cache.holds(FolderId(1)),
            "too large, and the old one is stale"
        );
        assert_eq!(cache.state().used, 0);
        let none = FolderCache::new(0);
        none.install(FolderId(1), &view(1, 1));
        assert!(!none.holds(FolderId(1)));
        assert!(!none.fits(FolderId(2), 0, FetchParts::NONE));
    }

    #[test]
    fn a_folder_found_too_large_is_not_loaded_again() {
        let large = view_with(100, 1, 1000);
        let cache = FolderCache::new(large.bytes() - 200);
        let envelope = FetchParts {
            envelope: true,
            body_structure: false,
        };
        // By the usual estimate, 100 messages fit; their real cost says otherwise.
        let count = 100;
        assert!(cache.fits(FolderId(1), count, envelope));
        cache.install(FolderId(1), &large);
        assert!(!cache.holds(FolderId(1)));
        assert!(!cache.fits(FolderId(1), 100, envelope));
        assert!(cache.fits(FolderId(1), 10, envelope));
        assert!(
            cache.fits(FolderId(2), count, envelope),
            "other folders keep the estimate"
        );
    }

    #[test]
    fn stripes_cover_every_id() {
        for id in [-3, 0, 1, 63, 64, i64::MAX] {
            assert!(stripe(FolderId(id)) < STRIPES);
        }
    }
}
