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
//!    ├─ not cached ─► every message's metadata in one statement
//!    ├─ parts missing for `uids` ─► their indexes, rendered once (ENVELOPE, BODYSTRUCTURE)
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
//! aggregated value per statement instead (`group_concat` of one line per message, or of
//! length-prefixed index blobs), split here.
//!
//! **Bounded.** The views of all folders together stay under the configured budget: the
//! least recently used folders are dropped first, and a folder whose view would not fit at
//! all is never cached — its commands get views of just the UIDs they ask for, built the same
//! way.

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

    /// The view of `folder` holding every message of `uids` that exists, with `parts`, from
    /// one snapshot. Cached folders are checked and brought up to date; a folder not cached
    /// is loaded if it fits in the budget, else only `uids` are read (a view that covers the
    /// bounds of `uids`, not cached).
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
        let Some((modseq, uid_next)) = point(&mut *tx, folder).await? else {
            self.forget(folder);
            return Ok(Answer::NoFolder);
        };
        let mut keywords = KeywordTable::default();
        let mut view = match self.cached(folder) {
            Some(view) if (view.highest_modseq(), view.uid_next()) == (modseq, uid_next) => view,
            Some(view) if view.highest_modseq() < modseq => {
                match refresh(&mut tx, &mut keywords, folder, &view, modseq, uid_next).await? {
                    Some(view) => view,
                    None => load(&mut tx, &mut keywords, folder, modseq, uid_next, None).await?,
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
                    let (low, high) = uids.bounds().unwrap_or((1, 0));
                    let view = if low > high {
                        ViewBuilder::new(modseq, uid_next, (low, high)).finish()
                    } else {
                        let bounds = Some((low, high));
                        load(&mut tx, &mut keywords, folder, modseq, uid_next, bounds).await?
                    };
                    let view = fill(&mut tx, blobs, folder, view, uids, parts).await?;
                    return Ok(Answer::Folder(view));
                }
                load(&mut tx, &mut keywords, folder, modseq, uid_next, None).await?
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

/// One line per message: the numbers, then the keywords (atoms, so no line break), read as
/// one value. Rows come in UID order (the `(folder_id, uid)` index); the parser sorts anyway.
macro_rules! meta_lines {
    ($where:literal) => {
        concat!(
            "SELECT group_concat(printf('%d %d %d %d %d %d %s', m.uid, m.modseq, m.system_flags, \
             m.internal_date, m.saved_at, c.size, m.keywords), char(10)) \
             FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.folder_id = ?1 ",
            $where
        )
    };
}

/// The metadata of the folder's messages (all, or those in `bounds`), as a view covering the
/// whole folder or `bounds`.
async fn load(
    tx: &mut Transaction<'_, Sqlite>,
    keywords: &mut KeywordTable,
    folder: FolderId,
    modseq: u64,
    uid_next: u32,
    bounds: Option<(u32, u32)>,
) -> Result<FetchView, StoreError> {
    let (low, high) = bounds.unwrap_or((1, u32::MAX));
    let row = sqlx::query(meta_lines!("AND m.uid BETWEEN ?2 AND ?3"))
        .bind(folder.0)
        .bind(i64::from(low))
        .bind(i64::from(high))
        .fetch_one(&mut **tx)
        .await
        .ctx(WHAT)?;
    let text: Option<&str> = row.try_get(0).ctx(WHAT)?;
    let records = parse_lines(text.unwrap_or(""), keywords)?;
    let mut builder = ViewBuilder::new(modseq, uid_next, (low, high));
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
    let row = sqlx::query(meta_lines!("AND m.modseq > ?2"))
        .bind(folder.0)
        .bind(since)
        .fetch_one(&mut **tx)
        .await
        .ctx(WHAT)?;
    let text: Option<&str> = row.try_get(0).ctx(WHAT)?;
    let upserted = parse_lines(text.unwrap_or(""), keywords)?;
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
    for batch in missing.chunks(PARTS_BATCH) {
        let (low, high) = (batch[0], batch[batch.len() - 1]);
        let row = sqlx::query(
            "SELECT group_concat(printf('%d %d ', m.uid, length(CAST(c.idx AS BLOB))) \
             || CAST(c.idx AS BLOB), '') \
             FROM messages m JOIN contents c ON c.id = m.content_id \
             WHERE m.folder_id = ?1 AND m.uid BETWEEN ?2 AND ?3",
        )
        .bind(folder.0)
        .bind(i64::from(low))
        .bind(i64::from(high))
        .fetch_one(&mut **tx)
        .await
        .ctx(WHAT)?;
        let packed: Option<&[u8]> = row.try_get(0).ctx(WHAT)?;
        let mut rest = packed.unwrap_or_default();
        while !rest.is_empty() {
            let (uid, bytes, after) = split_packed(rest)?;
            rest = after;
            if batch.binary_search(&uid).is_err() {
                continue;
            }
            let index = match MessageIndex::from_bytes(bytes) {
                Ok(index) => index,
                Err(error) => {
                    // An index from an older format (or damaged): the message itself is the
                    // truth, so parse it again rather than fail the FETCH.
                    tracing::warn!(%error, uid, "rebuilding a message index");
                    reparse(tx, blobs, folder, uid).await?
                }
            };
            if parts.envelope {
                let mut out = Vec::with_capacity(bytes.len() / 2);
                write_envelope(&index.envelope, &mut out);
                changes.parts.push((uid, Part::Envelope, Arc::from(out)));
            }
            if parts.body_structure {
                let mut out = Vec::with_capacity(bytes.len() / 4);
                write_bodystructure(&index.body, true, &mut out);
                changes
                    .parts
                    .push((uid, Part::BodyStructure, Arc::from(out)));
            }
        }
    }
    Ok(view.apply(changes))
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

/// `uid length ` then `length` octets; returns the UID, the octets and what follows.
fn split_packed(packed: &[u8]) -> Result<(u32, &[u8], &[u8]), StoreError> {
    let bad = || StoreError::backend(WHAT, "malformed packed indexes");
    let mut fields = packed.splitn(3, |&b| b == b' ');
    let mut number = || -> Result<usize, StoreError> {
        let field = fields.next().ok_or_else(bad)?;
        std::str::from_utf8(field)
            .ok()
            .and_then(|f| f.parse().ok())
            .ok_or_else(bad)
    };
    let uid = u32::try_from(number()?).map_err(|_| bad())?;
    let len = number()?;
    let rest = fields.next().ok_or_else(bad)?;
    if rest.len() < len {
        return Err(bad());
    }
    let (bytes, rest) = rest.split_at(len);
    Ok((uid, bytes, rest))
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
        let shared = (!normal.is_empty()).then(|| Arc::from(normal));
        self.0.insert(text.into(), shared.clone());
        Ok(shared)
    }
}

/// Records from `uid modseq flags internal_date saved_at size keywords` lines, ascending.
fn parse_lines(text: &str, keywords: &mut KeywordTable) -> Result<Vec<Record>, StoreError> {
    let mut records = Vec::with_capacity(text.len() / 48);
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        let bad = || StoreError::backend(WHAT, format!("malformed message line {line:?}"));
        let mut fields = line.splitn(7, ' ');
        let mut number = || -> Result<i64, StoreError> {
            fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)
        };
        let (uid, modseq, flags, internal_date, saved_at, size) = (
            number()?,
            number()?,
            number()?,
            number()?,
            number()?,
            number()?,
        );
        let keyword_text = fields.next().unwrap_or("");
        records.push(Record {
            uid: int(uid, WHAT)?,
            system: SystemFlags::from_bits(int(flags, WHAT)?),
            modseq: int(modseq, WHAT)?,
            internal_date,
            saved_at,
            size: int(size, WHAT)?,
            keywords: keywords.get(keyword_text)?,
            envelope: None,
            body_structure: None,
        });
    }
    if !records.is_sorted_by_key(|r| r.uid) {
        records.sort_unstable_by_key(|r| r.uid);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_with_and_without_keywords() {
        let mut keywords = KeywordTable::default();
        let records = parse_lines(
            "7 12 1 1700000000 1700000001 3076 \n3 9 5 -5 0 10 $Work $Junk\n9 13 0 0 0 1 $Junk $Work",
            &mut keywords,
        )
        .expect("parsed");
        let uids: Vec<u32> = records.iter().map(|r| r.uid).collect();
        assert_eq!(uids, [3, 7, 9], "sorted");
        assert_eq!(records[1].modseq, 12);
        assert_eq!(records[1].system, SystemFlags::SEEN);
        assert_eq!(
            (records[1].internal_date, records[1].saved_at),
            (1700000000, 1700000001)
        );
        assert_eq!(records[1].size, 3076);
        assert!(records[1].keywords.is_none());
        assert_eq!(records[0].internal_date, -5);
        // Normalised (ascending) and shared between equal sets.
        assert_eq!(records[0].keywords.as_deref(), Some("$Junk $Work"));
        let (a, b) = (
            records[0].keywords.as_ref().expect("a"),
            records[2].keywords.as_ref().expect("b"),
        );
        assert_eq!(a, b);
        assert!(parse_lines("1 2 3", &mut keywords).is_err());
        assert!(parse_lines("1 2 3 4 5 6 bad\\keyword", &mut keywords).is_err());
        assert!(parse_lines("", &mut keywords).expect("empty").is_empty());
    }

    #[test]
    fn packed_indexes_split_on_their_lengths() {
        let packed = b"4 3 a b12 0 7 5 \x00 \n\xff ";
        let (uid, bytes, rest) = split_packed(packed).expect("first");
        assert_eq!((uid, bytes), (4, &b"a b"[..]));
        let (uid, bytes, rest) = split_packed(rest).expect("second");
        assert_eq!((uid, bytes), (12, &b""[..]));
        let (uid, bytes, rest) = split_packed(rest).expect("third");
        assert_eq!((uid, bytes), (7, &b"\x00 \n\xff "[..]));
        assert!(rest.is_empty());
        assert!(split_packed(b"4 9 short").is_err());
        assert!(split_packed(b"x 1 a").is_err());
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
