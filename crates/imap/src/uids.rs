//! The UIDs of the selected folder, in message sequence order, stored as runs of consecutive
//! UIDs.
//!
//! A session keeps this list for as long as the folder is selected, and thousands of sessions
//! sit in IDLE: a plain `Vec<u32>` of a 100,000-message folder is 400 KB per session. UIDs are
//! given in order and mostly kept, so a folder is a handful of runs and the list a few dozen
//! bytes. Lookups stay logarithmic: `offsets[i]` is the position of the first UID of run `i`.

/// A run of consecutive UIDs: `first`, `first + 1`, … `first + len - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first: u32,
    len: u32,
}

impl Run {
    fn last(self) -> u32 {
        self.first + (self.len - 1)
    }
}

/// Ascending UIDs with positions (0-based; sequence numbers are positions + 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UidList {
    runs: Vec<Run>,
    /// `offsets[i]`: how many UIDs come before run `i`.
    offsets: Vec<u32>,
    len: u32,
}

impl UidList {
    /// The list of `uids`, which must be ascending (duplicates and smaller ones are skipped).
    pub(crate) fn from_sorted(uids: impl IntoIterator<Item = u32>) -> UidList {
        let mut list = UidList::default();
        for uid in uids {
            list.push(uid);
        }
        list
    }

    /// How many UIDs.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// The smallest UID.
    pub(crate) fn first(&self) -> Option<u32> {
        self.runs.first().map(|run| run.first)
    }

    /// The largest UID.
    pub(crate) fn last(&self) -> Option<u32> {
        self.runs.last().map(|run| run.last())
    }

    /// Adds `uid` at the end; ignored unless it is above the last.
    pub(crate) fn push(&mut self, uid: u32) {
        match self.runs.last_mut() {
            Some(run) if uid <= run.last() => return,
            Some(run) if uid == run.last() + 1 => run.len += 1,
            _ => {
                self.offsets.push(self.len);
                self.runs.push(Run { first: uid, len: 1 });
            }
        }
        self.len += 1;
    }

    /// The UID at `position`.
    pub(crate) fn get(&self, position: u32) -> Option<u32> {
        if position >= self.len {
            return None;
        }
        let run = self.offsets.partition_point(|&offset| offset <= position) - 1;
        Some(self.runs[run].first + (position - self.offsets[run]))
    }

    /// The position of `uid`, if it is in the list.
    pub(crate) fn position(&self, uid: u32) -> Option<u32> {
        let run = self.runs.partition_point(|run| run.last() < uid);
        let found = self.runs.get(run)?;
        (found.first <= uid).then(|| self.offsets[run] + (uid - found.first))
    }

    /// How many UIDs are below `uid` (the position `uid` has or would have).
    pub(crate) fn count_below(&self, uid: u32) -> u32 {
        let run = self.runs.partition_point(|run| run.last() < uid);
        match self.runs.get(run) {
            Some(found) if found.first < uid => self.offsets[run] + (uid - found.first),
            Some(_) => self.offsets[run],
            None => self.len,
        }
    }

    /// Removes `uid`, returning the position it had.
    pub(crate) fn remove(&mut self, uid: u32) -> Option<u32> {
        let position = self.position(uid)?;
        let run = self.runs.partition_point(|run| run.last() < uid);
        let Run { first, len } = self.runs[run];
        if len == 1 {
            self.runs.remove(run);
            self.offsets.remove(run);
        } else if uid == first {
            self.runs[run] = Run {
                first: first + 1,
                len: len - 1,
            };
        } else if uid == first + (len - 1) {
            self.runs[run].len -= 1;
        } else {
            let before = uid - first;
            self.runs[run].len = before;
            self.runs.insert(
                run + 1,
                Run {
                    first: uid + 1,
                    len: len - before - 1,
                },
            );
            // Its position before the removal, lowered with the runs after it below.
            self.offsets.insert(run + 1, self.offsets[run] + before + 1);
        }
        let from = if len == 1 { run } else { run + 1 };
        for offset in &mut self.offsets[from..] {
            *offset -= 1;
        }
        self.len -= 1;
        Some(position)
    }

    /// The UIDs in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.runs.iter().flat_map(|run| run.first..=run.last())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list against a plain vector, operation by operation.
    fn check(list: &UidList, plain: &[u32]) {
        assert_eq!(list.len() as usize, plain.len());
        assert_eq!(list.iter().collect::<Vec<_>>(), plain);
        for (at, &uid) in plain.iter().enumerate() {
            assert_eq!(list.get(at as u32), Some(uid));
            assert_eq!(list.position(uid), Some(at as u32));
        }
        assert_eq!(list.get(plain.len() as u32), None);
        for probe in 0..=plain.last().copied().unwrap_or(0) + 2 {
            let below = plain.iter().filter(|&&u| u < probe).count() as u32;
            assert_eq!(list.count_below(probe), below, "below {probe}");
            if !plain.contains(&probe) {
                assert_eq!(list.position(probe), None);
            }
        }
        assert_eq!(list.first(), plain.first().copied());
        assert_eq!(list.last(), plain.last().copied());
    }

    #[test]
    fn runs_behave_like_a_sorted_vector_through_pushes_and_removals() {
        let mut plain: Vec<u32> = (1..=20).chain(30..=35).chain([40, 42]).collect();
        let mut list = UidList::from_sorted(plain.iter().copied());
        assert_eq!(list.runs.len(), 4);
        check(&list, &plain);
        // Middle of a run, its ends, a run of one, a UID that is not there.
        for uid in [10, 1, 20, 40, 35, 99, 31] {
            let expected = plain.iter().position(|&u| u == uid).map(|p| p as u32);
            assert_eq!(list.remove(uid), expected, "remove {uid}");
            plain.retain(|&u| u != uid);
            check(&list, &plain);
        }
        for uid in [43, 44, 50, 44, 3] {
            list.push(uid);
            if plain.last().is_none_or(|&last| uid > last) {
                plain.push(uid);
            }
            check(&list, &plain);
        }
        while let Some(&uid) = plain.first() {
            assert_eq!(list.remove(uid), Some(0));
            plain.remove(0);
            check(&list, &plain);
        }
        assert!(list.len() == 0 && list.runs.is_empty());
    }

    #[test]
    fn a_contiguous_folder_is_one_run() {
        let list = UidList::from_sorted(1..=100_000);
        assert_eq!(list.runs.len(), 1);
        assert_eq!(list.get(99_999), Some(100_000));
        assert_eq!(list.position(54_321), Some(54_320));
    }
}
