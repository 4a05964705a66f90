//! `fsck`: check the invariants of a data folder and repair what can be repaired safely
//! (issue 10).
//!
//! The invariants are those the rest of the store relies on without checking them again:
//! every UID of a folder below its UIDNEXT and unique in it (RFC 9051 §2.3.1.1), every MODSEQ
//! at most the folder's HIGHESTMODSEQ (RFC 7162 §3.1), every message's content readable (a
//! blob file of the right size, or an inline body), no blob file or content row that nothing
//! references and nothing will collect, every queued message with a recipient and its content
//! file. SQLite's own `integrity_check` and `foreign_key_check` run first.
//!
//! A repair only ever moves a counter forward, removes what nothing references (files older
//! than [`ORPHAN_AGE`], so a write in flight is never touched), or removes a queued message
//! nobody can receive. What would lose or invent mail (a content that is gone, a UID used
//! twice) is reported, never "repaired" by deleting rows.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::StoreError;

/// Files younger than this are never called orphans: a server sharing the data folder may be
/// between writing a blob and committing the row that references it (RCV-12 puts the file
/// first).
pub const ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// Whether [`check`] may change the data folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Only report; the data folder is opened read-only.
    No,
    /// Report and repair what is safe, each repair in its own transaction. Refused while
    /// another process (a running server) has the database open.
    Yes,
}

/// How much of each content [`check`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Sizes only: a stat per blob file.
    Quick,
    /// Also the SHA-256 of every content (blob files and inline bodies), which reads them all.
    Deep,
}

/// Which invariant a finding breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// SQLite's `integrity_check` and `foreign_key_check`.
    Database,
    /// UIDs below the folder's UIDNEXT, unique within it.
    Uids,
    /// MODSEQs at most the folder's HIGHESTMODSEQ.
    Modseqs,
    /// Every message's content readable; no content row left uncollected.
    Contents,
    /// Blob files of mailbox contents that nothing references.
    BlobFiles,
    /// The outbound queue: recipients, content files, orphan files.
    Queue,
}

impl Check {
    /// The name printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Database => "database",
            Check::Uids => "uids",
            Check::Modseqs => "modseqs",
            Check::Contents => "contents",
            Check::BlobFiles => "blob-files",
            Check::Queue => "queue",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The invariant.
    pub check: Check,
    /// What it is about, for a person: `toto@abc.xyz/INBOX UID 7`, a file path, `queue 12`.
    pub subject: String,
    /// What is wrong (and, when repaired, what was done), one sentence.
    pub problem: String,
    /// Whether the repair was made.
    pub repaired: bool,
}

/// Everything [`check`] found, in the order of the checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FsckReport {
    /// The findings; empty for a healthy data folder.
    pub findings: Vec<Finding>,
}

impl FsckReport {
    /// Problems found.
    pub fn problems(&self) -> usize {
        self.findings.len()
    }

    /// Problems repaired.
    pub fn repaired(&self) -> usize {
        self.findings.iter().filter(|f| f.repaired).count()
    }

    /// Problems left as they were.
    pub fn unrepaired(&self) -> usize {
        self.problems() - self.repaired()
    }

    /// The findings of one check.
    pub fn of(&self, check: Check) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.check == check)
    }
}

/// Check the data folder `data_dir` of the embedded store, repairing with [`Repair::Yes`].
///
/// The result is exact when no server runs on the folder; beside a running server a check
/// may name a state that a write in progress is about to end (repairs are refused then).
/// Fails when there is no database, when its schema is older than this build (start the
/// server once to migrate it), or with [`Repair::Yes`] while another process has it open.
pub async fn check(
    data_dir: &Path,
    repair: Repair,
    depth: Depth,
) -> Result<FsckReport, StoreError> {
    crate::sqlite::fsck::check(data_dir, repair, depth).await
}
