//! The selected folder as one session sees it (RFC 9051 §2.3.1.2, §5.2, §7): the message
//! sequence numbers, and the changes made by others that the client has not been told yet.
//!
//! Sequence numbers are the positions in `uids`. They change only when this session reports an
//! expunge, so they stay consistent per session while other sessions change the folder. Changes
//! arrive as store events ([`FolderEvent`]) and wait in `pending` until a point where the
//! protocol allows them to be reported ([`Selected::take_updates`]): `EXISTS` and flag updates
//! after any command, expunges not during FETCH, STORE or SEARCH (RFC 9051 §7.5.1), because
//! they would renumber the messages those commands name.

use std::collections::{BTreeSet, HashSet};

use postwerk_model::FolderId;
use postwerk_store::{FolderEvent, FolderEventKind};

use crate::proto::SequenceSet;
use crate::uids::UidList;

/// A change to the folder that the client has not been told about.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// UIDs added by others, not yet announced with EXISTS.
    appended: BTreeSet<u32>,
    /// UIDs removed by others, not yet announced with EXPUNGE/VANISHED.
    expunged: BTreeSet<u32>,
    /// UIDs whose flags others changed, not yet announced with FETCH.
    flags: BTreeSet<u32>,
    /// The folder was deleted or renamed away under the session.
    gone: bool,
}

/// What must be told to the client at a reporting point.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Updates {
    /// Sequence numbers to announce with `* n EXPUNGE`, in the order to send them (each is
    /// valid after the previous ones were removed), with the UIDs for `VANISHED`.
    pub expunged: Vec<(u32, u32)>,
    /// The new message count for `* n EXISTS`, if it changed.
    pub exists: Option<u32>,
    /// `(sequence number, UID)` of messages whose flags to send with `FETCH`.
    pub flags: Vec<(u32, u32)>,
}

/// The selected folder.
#[derive(Debug)]
pub(crate) struct Selected {
    /// The folder.
    pub folder: FolderId,
    /// Its name as the client gave it (for logs and the response of CLOSE).
    pub name: String,
    /// EXAMINE: no change may be made, and `\Seen` is not set by FETCH.
    pub read_only: bool,
    /// The UIDs of the messages the client knows, ascending: message `n` is at position
    /// `n - 1`.
    uids: UidList,
    /// The highest MODSEQ the session has seen.
    pub modseq: u64,
    /// HIGHESTMODSEQ when the folder was read at SELECT: events at or below it were already
    /// reflected in what was read.
    selected_at: u64,
    /// Changes not reported yet.
    pending: Pending,
    /// MODSEQs of flag changes this session made and reported itself, so their events are not
    /// reported a second time.
    own_modseqs: HashSet<u64>,
}

impl Selected {
    /// A folder just selected, with the UIDs it holds and its HIGHESTMODSEQ at that moment.
    pub(crate) fn new(
        folder: FolderId,
        name: String,
        read_only: bool,
        uids: UidList,
        modseq: u64,
    ) -> Selected {
        Selected {
            folder,
            name,
            read_only,
            uids,
            modseq,
            selected_at: modseq,
            pending: Pending::default(),
            own_modseqs: HashSet::new(),
        }
    }

    /// The number of messages the client knows (the last `EXISTS`).
    pub(crate) fn exists(&self) -> u32 {
        self.uids.len()
    }

    /// The UIDs the client knows, ascending.
    pub(crate) fn uids(&self) -> &UidList {
        &self.uids
    }

    /// The sequence number of `uid`, if the client knows that message.
    pub(crate) fn seq(&self, uid: u32) -> Option<u32> {
        self.uids.position(uid).map(|at| at + 1)
    }

    /// The largest UID the client knows (what `*` means in a UID set); 0 when empty.
    pub(crate) fn last_uid(&self) -> u32 {
        self.uids.last().unwrap_or(0)
    }

    /// `(seq, uid)` of the messages a sequence set names, ascending. With `uid`, the set is
    /// of UIDs and names only messages that exist (RFC 9051 §6.4.9: a UID range need not
    /// match any message); otherwise numbers beyond the last message are ignored here — the
    /// caller checks [`Selected::seq_set_valid`] first.
    pub(crate) fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<(u32, u32)> {
        let mut found = Vec::new();
        if uid {
            // `*` in a UID set is the largest UID in use (RFC 9051 §6.4.9); `n:*` with n
            // above it still names that last message.
            let largest = self.last_uid();
            for (low, high) in set.resolved(largest) {
                let start = self.uids.count_below(low);
                let end = self.uids.count_below(high.saturating_add(1));
                let end = if high == u32::MAX {
                    self.uids.len()
                } else {
                    end
                };
                for at in start..end {
                    found.extend(self.uids.get(at).map(|uid| (at, uid)));
                }
            }
        } else {
            let largest = self.exists();
            for (low, high) in set.resolved(largest) {
                let high = high.min(largest);
                for seq in low.max(1)..=high {
                    found.extend(self.uids.get(seq - 1).map(|uid| (seq - 1, uid)));
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|(at, uid)| (at + 1, uid)).collect()
    }

    /// Whether every message sequence number in `set` exists (RFC 9051 §6.4.5: a sequence
    /// number beyond the last message is an error, answered `BAD`).
    pub(crate) fn seq_set_valid(&self, set: &SequenceSet) -> bool {
        let largest = self.exists();
        set.resolved(largest)
            .iter()
            .all(|&(low, high)| low >= 1 && high <= largest)
    }

    /// Takes note of one store event. Events of other folders, and events already reflected
    /// in what the session read when it selected the folder, are ignored.
    pub(crate) fn observe(&mut self, event: &FolderEvent) {
        if event.folder != self.folder {
            return;
        }
        match &event.kind {
            FolderEventKind::Appended { uids } => {
                let last = self.last_uid();
                self.pending
                    .appended
                    .extend(uids.iter().copied().filter(|&uid| uid > last));
            }
            FolderEventKind::Expunged { uids } => {
                for uid in uids {
                    if !self.pending.appended.remove(uid) && self.seq(*uid).is_some() {
                        self.pending.expunged.insert(*uid);
                    }
                    self.pending.flags.remove(uid);
                }
            }
            FolderEventKind::FlagsChanged { uids } => {
                // Our own STOREs were reported by the STORE itself; changes made before the
                // SELECT read the folder are in what it read.
                if self.own_modseqs.remove(&event.modseq) || event.modseq <= self.selected_at {
                    return;
                }
                let known: Vec<u32> = uids
                    .iter()
                    .copied()
                    .filter(|uid| self.seq(*uid).is_some())
                    .collect();
                self.pending.flags.extend(known);
            }
            FolderEventKind::Deleted => self.pending.gone = true,
            FolderEventKind::Renamed { .. }
            | FolderEventKind::Created
            | FolderEventKind::Subscription { .. } => {}
        }
        self.modseq = self.modseq.max(event.modseq);
    }

    /// Brings the pending changes up to date from the folder's current `(uid, modseq)` list,
    /// when events were lost (a lagging subscriber): messages gone are expunged, new ones
    /// appended, and those changed after the last known MODSEQ get their flags reported.
    pub(crate) fn reconcile(&mut self, current: &[(u32, u64)]) {
        let present: HashSet<u32> = current.iter().map(|&(uid, _)| uid).collect();
        for uid in self.uids.iter() {
            if !present.contains(&uid) {
                self.pending.expunged.insert(uid);
            }
        }
        let last = self.last_uid();
        for &(uid, modseq) in current {
            if uid > last {
                self.pending.appended.insert(uid);
            } else if modseq > self.modseq && self.seq(uid).is_some() {
                self.pending.flags.insert(uid);
            }
        }
        self.own_modseqs.clear();
        self.modseq = current.iter().map(|&(_, m)| m).fold(self.modseq, u64::max);
    }

    /// Remembers a flag change this session made (and reported) at `modseq`.
    pub(crate) fn own_change(&mut self, modseq: u64) {
        self.own_modseqs.insert(modseq);
        self.modseq = self.modseq.max(modseq);
    }

    /// Removes messages this session expunged (and reported) itself: `(seq, uid)` pairs in the
    /// order they were reported.
    pub(crate) fn remove_own(&mut self, uids: &[u32]) -> Vec<(u32, u32)> {
        let mut reported = Vec::with_capacity(uids.len());
        for &uid in uids {
            if let Some(at) = self.uids.remove(uid) {
                self.pending.flags.remove(&uid);
                self.pending.expunged.remove(&uid);
                reported.push((at + 1, uid));
            }
        }
        reported
    }

    /// Whether the folder was deleted under the session.
    pub(crate) fn is_gone(&self) -> bool {
        self.pending.gone
    }

    /// Whether anything waits to be reported.
    pub(crate) fn has_pending(&self) -> bool {
        let p = &self.pending;
        !p.appended.is_empty() || !p.expunged.is_empty() || !p.flags.is_empty()
    }

    /// The changes to report now, applied to the session's view. `with_expunges` is false
    /// during FETCH, STORE and SEARCH (RFC 9051 §7.5.1); expunges then wait, and so do new
    /// messages, whose sequence numbers would otherwise jump over the expunged ones.
    pub(crate) fn take_updates(&mut self, with_expunges: bool) -> Updates {
        let mut updates = Updates::default();
        let flags = std::mem::take(&mut self.pending.flags);
        if with_expunges {
            for uid in std::mem::take(&mut self.pending.expunged) {
                if let Some(at) = self.uids.remove(uid) {
                    updates.expunged.push((at + 1, uid));
                }
            }
        }
        if with_expunges || self.pending.expunged.is_empty() {
            let appended = std::mem::take(&mut self.pending.appended);
            let before = self.uids.len();
            for uid in appended {
                self.uids.push(uid);
            }
            if self.uids.len() != before {
                updates.exists = Some(self.exists());
            }
        }
        updates.flags = flags
            .into_iter()
            .filter_map(|uid| self.seq(uid).map(|seq| (seq, uid)))
            .collect();
        updates
    }
}

#[cfg(test)]
mod tests {
    use postwerk_model::AddressId;

    use super::*;
    use crate::proto::SeqNumber;

    fn event(modseq: u64, kind: FolderEventKind) -> FolderEvent {
        FolderEvent {
            folder: FolderId(1),
            mailbox: AddressId(1),
            modseq,
            kind,
        }
    }

    fn selected() -> Selected {
        Selected::new(
            FolderId(1),
            "INBOX".into(),
            false,
            UidList::from_sorted([3, 5, 9]),
            10,
        )
    }

    fn set(ranges: &[(SeqNumber, SeqNumber)]) -> SequenceSet {
        SequenceSet::Ranges(ranges.to_vec())
    }

    #[test]
    fn sequence_numbers_and_uids_resolve_both_ways() {
        let s = selected();
        assert_eq!((s.seq(5), s.seq(4)), (Some(2), None));
        use SeqNumber::{Largest, Value};
        assert_eq!(
            s.resolve(&set(&[(Value(2), Largest)]), false),
            vec![(2, 5), (3, 9)]
        );
        assert_eq!(
            s.resolve(&set(&[(Value(4), Value(9)), (Value(3), Value(3))]), true),
            vec![(1, 3), (2, 5), (3, 9)]
        );
        // `*` in a UID set is the last UID even when the range starts above it.
        assert_eq!(
            s.resolve(&set(&[(Value(100), Largest)]), true),
            vec![(3, 9)]
        );
        assert!(s.seq_set_valid(&set(&[(Value(1), Largest)])));
        assert!(!s.seq_set_valid(&set(&[(Value(4), Value(4))])));
    }

    #[test]
    fn changes_by_others_wait_for_a_point_where_they_may_be_reported() {
        let mut s = selected();
        s.observe(&event(11, FolderEventKind::Appended { uids: vec![10, 11] }));
        s.observe(&event(12, FolderEventKind::Expunged { uids: vec![5] }));
        s.observe(&event(13, FolderEventKind::FlagsChanged { uids: vec![9] }));
        let during_fetch = s.take_updates(false);
        assert_eq!(during_fetch.expunged, vec![]);
        assert_eq!(
            during_fetch.exists, None,
            "new messages wait behind the expunge"
        );
        assert_eq!(during_fetch.flags, vec![(3, 9)]);
        let after = s.take_updates(true);
        assert_eq!(after.expunged, vec![(2, 5)]);
        assert_eq!(after.exists, Some(4));
        assert_eq!(s.uids().iter().collect::<Vec<_>>(), [3, 9, 10, 11]);
        assert!(!s.has_pending());
    }

    #[test]
    fn events_already_known_or_made_by_the_session_are_not_reported_again() {
        let mut s = selected();
        s.observe(&event(9, FolderEventKind::FlagsChanged { uids: vec![3] }));
        s.observe(&event(10, FolderEventKind::Appended { uids: vec![9] }));
        s.own_change(11);
        s.observe(&event(11, FolderEventKind::FlagsChanged { uids: vec![3] }));
        let reported = s.remove_own(&[5]);
        assert_eq!(reported, vec![(2, 5)]);
        s.observe(&event(12, FolderEventKind::Expunged { uids: vec![5] }));
        assert!(!s.has_pending());
        assert_eq!(s.take_updates(true), Updates::default());
    }

    #[test]
    fn a_change_by_another_session_reported_late_is_not_hidden_by_an_own_change() {
        let mut s = selected();
        s.own_change(12);
        s.observe(&event(11, FolderEventKind::FlagsChanged { uids: vec![5] }));
        s.observe(&event(12, FolderEventKind::FlagsChanged { uids: vec![3] }));
        assert_eq!(s.take_updates(true).flags, vec![(2, 5)]);
    }

    #[test]
    fn lost_events_are_recovered_from_the_folder_contents() {
        let mut s = selected();
        s.reconcile(&[(3, 4), (9, 15), (12, 16)]);
        let updates = s.take_updates(true);
        assert_eq!(updates.expunged, vec![(2, 5)]);
        assert_eq!(updates.exists, Some(3));
        assert_eq!(updates.flags, vec![(2, 9)]);
        assert_eq!(s.uids().iter().collect::<Vec<_>>(), [3, 9, 12]);
    }

    #[test]
    fn a_message_added_then_removed_before_being_reported_is_never_seen() {
        let mut s = selected();
        s.observe(&event(11, FolderEventKind::Appended { uids: vec![12] }));
        s.observe(&event(12, FolderEventKind::Expunged { uids: vec![12] }));
        assert_eq!(s.take_updates(true), Updates::default());
    }
}
