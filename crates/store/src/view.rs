//! [`FetchView`]: a folder's messages as IMAP FETCH of its common items needs them — UID, flags,
//! MODSEQ, size, dates, and the ENVELOPE and BODYSTRUCTURE already rendered in IMAP syntax — as
//! one immutable snapshot that many sessions share and read without locks.
//!
//! Backend-independent: a backend builds views (see [`ViewBuilder`] and [`FetchView::apply`]) and
//! may keep them as a cache between commands; callers only read them.
//!
//! ```text
//!  FetchView ─ chunks: [Arc<Chunk>] ─ Chunk: up to CHUNK records, ascending UIDs
//!      │                                  Record: uid, modseq, flags, dates, size,
//!      │                                          keywords (shared text), rendered parts
//!      └─ apply(changes) → a new view: the chunks a change touches are copied, the others
//!                          shared, so a session still reading the old view is not disturbed
//! ```

use std::collections::BTreeSet;
use std::mem::size_of;
use std::sync::Arc;

use crate::{Flags, Keyword, SystemFlags, UidSet};

/// Records per chunk: a change copies one chunk (a few tens of kilobytes), not the folder.
const CHUNK: usize = 512;

/// Which rendered parts a [`FetchView`] must hold for the messages asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchParts {
    /// The ENVELOPE (RFC 9051 §7.5.2).
    pub envelope: bool,
    /// The BODYSTRUCTURE, with extension data (RFC 9051 §7.5.2).
    pub body_structure: bool,
}

impl FetchParts {
    /// No rendered part: UID, flags, MODSEQ, sizes and dates only.
    pub const NONE: FetchParts = FetchParts {
        envelope: false,
        body_structure: false,
    };

    /// Whether no part is asked.
    pub fn is_empty(self) -> bool {
        !self.envelope && !self.body_structure
    }
}

/// One message of a [`FetchView`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchRecord<'a> {
    /// Its UID.
    pub uid: u32,
    /// RFC 7162 MODSEQ of its last change.
    pub modseq: u64,
    /// Its system flags.
    pub system: SystemFlags,
    keywords: Option<&'a str>,
    /// INTERNALDATE, Unix seconds.
    pub internal_date: i64,
    /// SAVEDATE (RFC 8514), Unix seconds.
    pub saved_at: i64,
    /// RFC822.SIZE.
    pub size: u64,
    /// The ENVELOPE in IMAP syntax (without the `ENVELOPE ` item name), when the view was asked
    /// for it.
    pub envelope: Option<&'a [u8]>,
    /// The BODYSTRUCTURE in IMAP syntax, extension data included, when the view was asked for
    /// it.
    pub body_structure: Option<&'a [u8]>,
}

impl<'a> FetchRecord<'a> {
    /// Its keywords, ascending (each a valid [`Keyword`]).
    pub fn keywords(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.keywords.unwrap_or("").split_ascii_whitespace()
    }

    /// Its flags as the model type (allocates for the keywords).
    pub fn flags(&self) -> Flags {
        Flags {
            system: self.system,
            keywords: self
                .keywords()
                .filter_map(Keyword::parse)
                .collect::<BTreeSet<_>>(),
        }
    }
}

/// One message as kept in a view.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) uid: u32,
    pub(crate) system: SystemFlags,
    pub(crate) modseq: u64,
    pub(crate) internal_date: i64,
    pub(crate) saved_at: i64,
    pub(crate) size: u64,
    /// Space-separated, ascending, validated; shared by every message with the same set.
    pub(crate) keywords: Option<Arc<str>>,
    pub(crate) envelope: Option<Arc<[u8]>>,
    pub(crate) body_structure: Option<Arc<[u8]>>,
}

impl Record {
    /// What the view accounts for this record: the record itself and its rendered parts (the
    /// keyword text is shared and small, so not counted), plus an allocator's overhead of 16
    /// octets per allocation.
    fn bytes(&self) -> usize {
        let part = |p: &Option<Arc<[u8]>>| p.as_ref().map_or(0, |b| b.len() + 32);
        size_of::<Record>() + part(&self.envelope) + part(&self.body_structure)
    }

    fn has(&self, parts: FetchParts) -> bool {
        (!parts.envelope || self.envelope.is_some())
            && (!parts.body_structure || self.body_structure.is_some())
    }

    fn as_fetch(&self) -> FetchRecord<'_> {
        FetchRecord {
            uid: self.uid,
            modseq: self.modseq,
            system: self.system,
            keywords: self.keywords.as_deref(),
            internal_date: self.internal_date,
            saved_at: self.saved_at,
            size: self.size,
            envelope: self.envelope.as_deref(),
            body_structure: self.body_structure.as_deref(),
        }
    }
}

/// Up to [`CHUNK`] records (more only briefly, until a split), ascending by UID.
#[derive(Clone, Debug, Default)]
struct Chunk {
    records: Vec<Record>,
}

/// A snapshot of messages of one folder, from one consistent read of the store.
///
/// `covers` says which UIDs it speaks for: a message in that range that the view does not
/// hold did not exist at the snapshot. A backend's cache keeps views of whole folders; a view
/// built for one command without the cache covers the UIDs that command asked for.
///
/// Cheap to clone (a vector of shared chunks).
#[derive(Clone, Debug, Default)]
pub struct FetchView {
    chunks: Vec<Arc<Chunk>>,
    /// The first UID of each chunk, for the binary search.
    firsts: Vec<u32>,
    /// The folder's HIGHESTMODSEQ at the snapshot.
    modseq: u64,
    /// The folder's UIDNEXT at the snapshot.
    uid_next: u32,
    /// The UIDs the view speaks for, inclusive.
    covers: (u32, u32),
    len: usize,
    bytes: usize,
}

impl FetchView {
    /// The folder's HIGHESTMODSEQ at the snapshot.
    pub fn highest_modseq(&self) -> u64 {
        self.modseq
    }

    /// The folder's UIDNEXT at the snapshot.
    pub fn uid_next(&self) -> u32 {
        self.uid_next
    }

    /// Number of messages held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the view holds no message.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message with this UID, if the view holds it.
    pub fn get(&self, uid: u32) -> Option<FetchRecord<'_>> {
        let (chunk, at) = self.locate(uid).ok()?;
        Some(self.chunks[chunk].records[at].as_fetch())
    }

    /// Every message held, ascending by UID.
    pub fn iter(&self) -> impl Iterator<Item = FetchRecord<'_>> {
        self.chunks
            .iter()
            .flat_map(|chunk| chunk.records.iter().map(Record::as_fetch))
    }

    /// The UIDs the view answers for, inclusive: a message in this range that the view does
    /// not hold did not exist at the snapshot. `(1, 0)` covers nothing.
    pub fn covered(&self) -> (u32, u32) {
        self.covers
    }

    /// Whether the view answers for every UID of `low..=high` with `parts`: the range is in
    /// what it covers and every message it holds there has the parts. A caller holding a view
    /// that covers its next UIDs need not ask the store again.
    pub fn covers(&self, low: u32, high: u32, parts: FetchParts) -> bool {
        if low > high {
            return true;
        }
        if low < self.covers.0 || high > self.covers.1 {
            return false;
        }
        parts.is_empty() || self.records_in(low, high).all(|r| r.has(parts))
    }

    /// The memory the view accounts for, in octets (see `Record::bytes`).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn records_in(&self, low: u32, high: u32) -> impl Iterator<Item = &Record> {
        let start = self.firsts.partition_point(|&first| first <= low).max(1) - 1;
        self.chunks[start.min(self.chunks.len())..]
            .iter()
            .flat_map(|chunk| chunk.records.iter())
            .skip_while(move |r| r.uid < low)
            .take_while(move |r| r.uid <= high)
    }

    /// `Ok((chunk, index))` of `uid`, or `Err((chunk, index))` where it would be inserted.
    fn locate(&self, uid: u32) -> Result<(usize, usize), (usize, usize)> {
        if self.chunks.is_empty() {
            return Err((0, 0));
        }
        let chunk = self.firsts.partition_point(|&first| first <= uid).max(1) - 1;
        let records = &self.chunks[chunk].records;
        match records.binary_search_by_key(&uid, |r| r.uid) {
            Ok(at) => Ok((chunk, at)),
            Err(at) => Err((chunk, at)),
        }
    }

    /// UIDs of `uids` held by the view that lack some of `parts`.
    pub(crate) fn missing(&self, uids: &UidSet, parts: FetchParts) -> Vec<u32> {
        if parts.is_empty() {
            return Vec::new();
        }
        let mut missing = Vec::new();
        for &(low, high) in uids.ranges() {
            missing.extend(
                self.records_in(low, high)
                    .filter(|r| !r.has(parts))
                    .map(|r| r.uid),
            );
        }
        missing
    }

    /// A new view with `changes` applied (the chunks they touch copied, the others shared).
    pub(crate) fn apply(&self, changes: Changes) -> FetchView {
        let mut view = self.clone();
        for uid in changes.removed {
            view.remove(uid);
        }
        for record in changes.upserted {
            view.upsert(record);
        }
        for (uid, part, bytes) in changes.parts {
            view.set_part(uid, part, bytes);
        }
        view.modseq = changes.modseq.unwrap_or(view.modseq);
        view.uid_next = changes.uid_next.unwrap_or(view.uid_next);
        view.rebalance();
        view
    }

    fn remove(&mut self, uid: u32) {
        if let Ok((chunk, at)) = self.locate(uid) {
            let records = &mut Arc::make_mut(&mut self.chunks[chunk]).records;
            let record = records.remove(at);
            self.bytes -= record.bytes();
            self.len -= 1;
        }
    }

    fn upsert(&mut self, record: Record) {
        self.bytes += record.bytes();
        match self.locate(record.uid) {
            Ok((chunk, at)) => {
                let records = &mut Arc::make_mut(&mut self.chunks[chunk]).records;
                // The rendered parts of a message never change: its content is immutable.
                let mut record = record;
                let old = &records[at];
                if record.envelope.is_none() {
                    record.envelope.clone_from(&old.envelope);
                    self.bytes += record.envelope.as_ref().map_or(0, |b| b.len() + 32);
                }
                if record.body_structure.is_none() {
                    record.body_structure.clone_from(&old.body_structure);
                    self.bytes += record.body_structure.as_ref().map_or(0, |b| b.len() + 32);
                }
                self.bytes -= old.bytes();
                records[at] = record;
            }
            Err((chunk, at)) => {
                if self.chunks.is_empty() {
                    self.chunks.push(Arc::new(Chunk::default()));
                    self.firsts.push(record.uid);
                }
                // A new UID above every other (the usual case) goes at the end of the last
                // chunk; others into the chunk that covers them.
                Arc::make_mut(&mut self.chunks[chunk])
                    .records
                    .insert(at, record);
                self.len += 1;
            }
        }
    }

    fn set_part(&mut self, uid: u32, part: Part, bytes: Arc<[u8]>) {
        if let Ok((chunk, at)) = self.locate(uid) {
            let record = &mut Arc::make_mut(&mut self.chunks[chunk]).records[at];
            let slot = match part {
                Part::Envelope => &mut record.envelope,
                Part::BodyStructure => &mut record.body_structure,
            };
            if slot.is_none() {
                self.bytes += bytes.len() + 32;
                *slot = Some(bytes);
            }
        }
    }

    /// Splits chunks grown beyond twice [`CHUNK`], drops empty ones, and recomputes the
    /// first UIDs.
    fn rebalance(&mut self) {
        if self
            .chunks
            .iter()
            .any(|c| c.records.is_empty() || c.records.len() > 2 * CHUNK)
        {
            let mut chunks = Vec::with_capacity(self.chunks.len() + 1);
            for chunk in self.chunks.drain(..) {
                if chunk.records.is_empty() {
                    continue;
                }
                if chunk.records.len() <= 2 * CHUNK {
                    chunks.push(chunk);
                    continue;
                }
                for piece in chunk.records.chunks(CHUNK) {
                    chunks.push(Arc::new(Chunk {
                        records: piece.to_vec(),
                    }));
                }
            }
            self.chunks = chunks;
        }
        self.firsts = self.chunks.iter().map(|c| c.records[0].uid).collect();
    }
}

/// Which rendered part a change fills in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Envelope,
    BodyStructure,
}

/// Changes to apply to a view, read from one later snapshot.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// UIDs expunged.
    pub(crate) removed: Vec<u32>,
    /// Messages added or changed (their rendered parts are kept when these have none).
    pub(crate) upserted: Vec<Record>,
    /// Rendered parts filled in.
    pub(crate) parts: Vec<(u32, Part, Arc<[u8]>)>,
    /// The folder's HIGHESTMODSEQ at the later snapshot.
    pub(crate) modseq: Option<u64>,
    /// The folder's UIDNEXT at the later snapshot.
    pub(crate) uid_next: Option<u32>,
}

/// Builds a view from records read in ascending UID order.
#[derive(Debug, Default)]
pub(crate) struct ViewBuilder {
    view: FetchView,
    current: Vec<Record>,
}

impl ViewBuilder {
    /// A view of the folder at HIGHESTMODSEQ `modseq` and UIDNEXT `uid_next`, answering for
    /// the UIDs `covers` (inclusive).
    pub(crate) fn new(modseq: u64, uid_next: u32, covers: (u32, u32)) -> ViewBuilder {
        ViewBuilder {
            view: FetchView {
                modseq,
                uid_next,
                covers,
                ..FetchView::default()
            },
            ..ViewBuilder::default()
        }
    }

    /// Adds the next record; UIDs must ascend.
    pub(crate) fn push(&mut self, record: Record) {
        debug_assert!(self.current.last().is_none_or(|r| r.uid < record.uid));
        self.view.bytes += record.bytes();
        self.view.len += 1;
        self.current.push(record);
        if self.current.len() == CHUNK {
            self.seal();
        }
    }

    fn seal(&mut self) {
        if self.current.is_empty() {
            return;
        }
        let records = std::mem::replace(&mut self.current, Vec::with_capacity(CHUNK));
        self.view.firsts.push(records[0].uid);
        self.view.chunks.push(Arc::new(Chunk { records }));
    }

    pub(crate) fn finish(mut self) -> FetchView {
        self.seal();
        self.view.bytes += self.view.chunks.len() * size_of::<Chunk>();
        self.view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(uid: u32, modseq: u64) -> Record {
        Record {
            uid,
            system: SystemFlags::NONE,
            modseq,
            internal_date: 0,
            saved_at: 0,
            size: u64::from(uid),
            keywords: None,
            envelope: None,
            body_structure: None,
        }
    }

    fn view(uids: impl IntoIterator<Item = u32>) -> FetchView {
        let mut builder = ViewBuilder::new(10, 5000, (1, u32::MAX));
        for uid in uids {
            builder.push(record(uid, 1));
        }
        builder.finish()
    }

    fn uids(view: &FetchView) -> Vec<u32> {
        view.iter().map(|r| r.uid).collect()
    }

    #[test]
    fn lookups_cross_chunks() {
        let v = view((1..=2000).filter(|u| u % 3 != 0));
        assert_eq!(v.len(), 1334);
        assert!(v.chunks.len() > 2);
        assert_eq!(v.get(1999).map(|r| r.size), Some(1999));
        assert!(v.get(999).is_none());
        assert!(v.get(0).is_none() && v.get(2001).is_none());
        assert_eq!(uids(&v).len(), 1334);
        assert!(uids(&v).windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn changes_make_a_new_view_and_leave_the_old_one() {
        let old = view(1..=1200);
        let mut changed = record(100, 11);
        changed.system = SystemFlags::SEEN;
        let new = old.apply(Changes {
            removed: vec![5, 6, 9999],
            upserted: vec![changed, record(1300, 11), record(1301, 11)],
            parts: vec![(1300, Part::Envelope, Arc::from(&b"(NIL)"[..]))],
            modseq: Some(11),
            uid_next: Some(1302),
        });
        assert_eq!(old.len(), 1200);
        assert_eq!(old.get(100).map(|r| r.system), Some(SystemFlags::NONE));
        assert!(old.get(5).is_some());
        assert_eq!(new.len(), 1200);
        assert!(new.get(5).is_none() && new.get(6).is_none());
        assert_eq!(new.get(100).map(|r| r.system), Some(SystemFlags::SEEN));
        assert_eq!(new.get(1300).and_then(|r| r.envelope), Some(&b"(NIL)"[..]));
        assert_eq!(
            (new.highest_modseq(), new.uid_next()),
            (11, 1302),
            "snapshot point"
        );
        // The chunk no change touched (UIDs 513 to 1024) is shared, not copied.
        assert!(Arc::ptr_eq(&old.chunks[1], &new.chunks[1]));
        assert!(!Arc::ptr_eq(&old.chunks[0], &new.chunks[0]));
    }

    #[test]
    fn parts_survive_a_flag_change_and_are_counted() {
        let v = view(1..=3);
        let before = v.bytes();
        let v = v.apply(Changes {
            parts: vec![
                (2, Part::Envelope, Arc::from(&b"0123456789"[..])),
                (2, Part::BodyStructure, Arc::from(&b"abc"[..])),
            ],
            ..Changes::default()
        });
        assert_eq!(v.bytes(), before + 10 + 3 + 64);
        let both = FetchParts {
            envelope: true,
            body_structure: true,
        };
        assert!(!v.covers(1, 3, both) && v.covers(2, 2, both));
        assert_eq!(v.missing(&UidSet::all(), both), vec![1, 3]);
        let v = v.apply(Changes {
            upserted: vec![record(2, 20)],
            ..Changes::default()
        });
        assert_eq!(v.bytes(), before + 10 + 3 + 64, "{v:?}");
        assert_eq!(v.get(2).and_then(|r| r.envelope), Some(&b"0123456789"[..]));
        assert_eq!(v.get(2).map(|r| r.modseq), Some(20));
    }

    #[test]
    fn chunks_split_and_vanish() {
        let v = view(1..=10);
        let grown = v.apply(Changes {
            upserted: (11..=3000).map(|u| record(u, 2)).collect(),
            ..Changes::default()
        });
        assert_eq!(uids(&grown), (1..=3000).collect::<Vec<_>>());
        assert!(grown.chunks.iter().all(|c| c.records.len() <= 2 * CHUNK));
        let emptied = grown.apply(Changes {
            removed: (1..=3000).collect(),
            ..Changes::default()
        });
        assert!(emptied.is_empty() && emptied.chunks.is_empty());
        assert!(emptied.get(1).is_none());
        let again = emptied.apply(Changes {
            upserted: vec![record(4000, 3)],
            ..Changes::default()
        });
        assert_eq!(uids(&again), [4000]);
    }

    #[test]
    fn covers_only_its_range() {
        let mut builder = ViewBuilder::new(1, 100, (10, 20));
        builder.push(record(12, 1));
        let v = builder.finish();
        assert!(v.covers(10, 20, FetchParts::NONE));
        assert!(!v.covers(9, 12, FetchParts::NONE));
        assert!(!v.covers(12, 21, FetchParts::NONE));
        assert!(!v.covers(
            12,
            12,
            FetchParts {
                envelope: true,
                body_structure: false
            }
        ));
    }

    #[test]
    fn keywords_read_back_as_flags() {
        let stored = Record {
            keywords: Some(Arc::from("$Junk $Work")),
            system: SystemFlags::SEEN,
            ..record(1, 1)
        };
        let fetched = stored.as_fetch();
        assert_eq!(fetched.keywords().collect::<Vec<_>>(), ["$Junk", "$Work"]);
        let flags = fetched.flags();
        assert_eq!(flags.keywords.len(), 2);
        assert_eq!(flags.system, SystemFlags::SEEN);
        assert_eq!(record(2, 1).as_fetch().keywords().count(), 0);
    }
}
