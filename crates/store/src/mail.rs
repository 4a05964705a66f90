//! The mail store: folders and messages with IMAP semantics (RFC 9051, CONDSTORE/QRESYNC of
//! RFC 7162, UIDPLUS of RFC 4315), independent of any backend.

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;
use postwerk_message::MessageIndex;
use postwerk_model::{AddressId, FolderId, SpecialUse};
use tokio::sync::broadcast;

use crate::{BlobId, FetchParts, FetchView, FolderEvent, StoreError};

/// The system flags of RFC 9051 §2.3.2 as a bit set. `\Recent` is not kept: IMAP4rev2 dropped
/// it and IMAP4rev1 clients cope with it never being set.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SystemFlags(u8);

impl SystemFlags {
    /// No flag.
    pub const NONE: SystemFlags = SystemFlags(0);
    /// `\Seen`: the message has been read.
    pub const SEEN: SystemFlags = SystemFlags(1);
    /// `\Answered`.
    pub const ANSWERED: SystemFlags = SystemFlags(1 << 1);
    /// `\Flagged`: marked for attention.
    pub const FLAGGED: SystemFlags = SystemFlags(1 << 2);
    /// `\Deleted`: to be removed by the next EXPUNGE.
    pub const DELETED: SystemFlags = SystemFlags(1 << 3);
    /// `\Draft`.
    pub const DRAFT: SystemFlags = SystemFlags(1 << 4);
    const KNOWN: u8 = (1 << 5) - 1;

    /// The flag names in IMAP syntax, in this order.
    pub const NAMES: [(SystemFlags, &'static str); 5] = [
        (SystemFlags::SEEN, "\\Seen"),
        (SystemFlags::ANSWERED, "\\Answered"),
        (SystemFlags::FLAGGED, "\\Flagged"),
        (SystemFlags::DELETED, "\\Deleted"),
        (SystemFlags::DRAFT, "\\Draft"),
    ];

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: SystemFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets together.
    pub const fn union(self, other: SystemFlags) -> SystemFlags {
        SystemFlags(self.0 | other.0)
    }

    /// This set without the flags of `other`.
    pub const fn difference(self, other: SystemFlags) -> SystemFlags {
        SystemFlags(self.0 & !other.0)
    }

    /// The stored form.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// From the stored form; unknown bits are dropped.
    pub const fn from_bits(bits: u8) -> SystemFlags {
        SystemFlags(bits & SystemFlags::KNOWN)
    }

    /// The flag named `name` (`\Seen`, case-insensitive as RFC 9051 §2.3.2 says), if it is a
    /// system flag this store keeps.
    pub fn from_name(name: &str) -> Option<SystemFlags> {
        SystemFlags::NAMES
            .into_iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(flag, _)| flag)
    }
}

/// Issue 10: what makes a delivery recognisable when a client sends it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// SHA-256 of what identifies the message (core: the envelope sender and the bytes as
    /// the client sent them).
    pub digest: [u8; 32],
    /// Deliveries since then (Unix seconds) count as the same; older fingerprints are
    /// forgotten.
    pub since: i64,
}

/// A keyword (user-defined flag such as `$Junk` or `$Forwarded`): an IMAP `atom`, 1 to 255
/// characters.
///
/// The constructor refuses what RFC 9051 §9 does not allow in an atom (space, controls,
/// `( ) { % * " \ ]`, 8-bit), so keywords can be stored space-separated and sent back to a
/// client without quoting.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Keyword(String);

impl Keyword {
    /// Longest keyword accepted.
    pub const MAX_LEN: usize = 255;

    /// Validate a keyword; `None` if it is not an atom.
    pub fn parse(text: &str) -> Option<Keyword> {
        let atom_char = |b: u8| {
            (0x21..0x7f).contains(&b)
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        };
        let valid =
            !text.is_empty() && text.len() <= Keyword::MAX_LEN && text.bytes().all(atom_char);
        valid.then(|| Keyword(text.to_owned()))
    }

    /// The keyword as sent by the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The flags of a message: system flags plus keywords.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `\Seen`, `\Answered`, …
    pub system: SystemFlags,
    /// User-defined flags.
    pub keywords: BTreeSet<Keyword>,
}

impl Flags {
    /// No flag at all (a fresh delivery).
    pub fn none() -> Flags {
        Flags::default()
    }

    /// Only these system flags.
    pub fn system(system: SystemFlags) -> Flags {
        Flags {
            system,
            keywords: BTreeSet::new(),
        }
    }

    /// These flags plus one keyword.
    pub fn with_keyword(mut self, keyword: Keyword) -> Flags {
        self.keywords.insert(keyword);
        self
    }

    /// The result of applying `op` with `change` to these flags (RFC 9051 §6.4.6 STORE).
    pub fn apply(&self, op: FlagOp, change: &Flags) -> Flags {
        match op {
            FlagOp::Replace => change.clone(),
            FlagOp::Add => Flags {
                system: self.system.union(change.system),
                keywords: self.keywords.union(&change.keywords).cloned().collect(),
            },
            FlagOp::Remove => Flags {
                system: self.system.difference(change.system),
                keywords: self
                    .keywords
                    .difference(&change.keywords)
                    .cloned()
                    .collect(),
            },
        }
    }
}

/// How a STORE changes flags (RFC 9051 §6.4.6: `FLAGS`, `+FLAGS`, `-FLAGS`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FlagOp {
    /// Set these flags, leave the others.
    Add,
    /// Clear these flags, leave the others.
    Remove,
    /// The message has exactly these flags afterwards.
    Replace,
}

/// A set of UIDs as ascending, non-overlapping, non-adjacent inclusive ranges. UID 0 does not
/// exist (RFC 9051 §2.3.1.1) and is never part of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UidSet(Vec<(u32, u32)>);

impl UidSet {
    /// Every UID (`1:*`).
    pub fn all() -> UidSet {
        UidSet(vec![(1, u32::MAX)])
    }

    /// One UID.
    pub fn single(uid: u32) -> UidSet {
        UidSet::from_ranges([(uid, uid)])
    }

    /// From inclusive ranges in any order, possibly reversed (`4:2` means `2:4`) or
    /// overlapping.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u32, u32)>) -> UidSet {
        let mut ranges: Vec<(u32, u32)> = ranges
            .into_iter()
            .map(|(a, b)| (a.min(b).max(1), a.max(b)))
            .filter(|&(a, b)| b >= 1 && a <= b)
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (first, last) in ranges {
            match merged.last_mut() {
                Some(prev) if u64::from(first) <= u64::from(prev.1) + 1 => {
                    prev.1 = prev.1.max(last)
                }
                _ => merged.push((first, last)),
            }
        }
        UidSet(merged)
    }

    /// From single UIDs.
    pub fn from_uids(uids: impl IntoIterator<Item = u32>) -> UidSet {
        UidSet::from_ranges(uids.into_iter().map(|u| (u, u)))
    }

    /// Whether `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        self.0
            .iter()
            .any(|&(first, last)| (first..=last).contains(&uid))
    }

    /// The smallest and largest UID of the set, `None` when empty.
    pub fn bounds(&self) -> Option<(u32, u32)> {
        Some((self.0.first()?.0, self.0.last()?.1))
    }

    /// The ranges, ascending.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.0
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A folder of a mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    /// Store id; stable across renames.
    pub id: FolderId,
    /// The mailbox (hosted address) it belongs to.
    pub mailbox: AddressId,
    /// Full name with `/` as hierarchy delimiter; `INBOX` canonical.
    pub name: String,
    /// The RFC 6154 role, if any.
    pub special_use: Option<SpecialUse>,
    /// RFC 9051 §2.3.1.1: changes whenever old UIDs may now name other messages (the folder
    /// was deleted and created again), so clients drop their caches. Never reused by this
    /// store, even for a folder of the same name.
    pub uid_validity: u32,
    /// The UID the next message added will get; never goes down.
    pub uid_next: u32,
    /// RFC 7162: the highest MODSEQ of any change in the folder; grows with every change.
    pub highest_modseq: u64,
    /// In the LSUB / `LIST (SUBSCRIBED)` set.
    pub subscribed: bool,
}

/// A folder with the counts of STATUS (RFC 9051 §6.3.11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderStatus {
    /// The folder itself (UIDNEXT, UIDVALIDITY, HIGHESTMODSEQ).
    pub folder: Folder,
    /// Number of messages.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Messages with `\Deleted` (STATUS DELETED, RFC 9051).
    pub deleted: u32,
    /// Sum of the messages' sizes (STATUS SIZE, RFC 9051).
    pub size: u64,
}

/// What selecting a folder needs to know of its messages (RFC 9051 §6.3.2), without listing
/// them in full: a SELECT of a 100,000-message folder must not read every subject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectView {
    /// The UIDs of the messages, ascending.
    pub uids: Vec<u32>,
    /// The UID of the first message without `\Seen` (IMAP4rev1's `UNSEEN` response code).
    pub first_unseen: Option<u32>,
    /// Every keyword set on some message (the `FLAGS` response).
    pub keywords: BTreeSet<Keyword>,
}

/// A message as listed: everything but the body and the parse tree, from one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    /// Its UID in the folder.
    pub uid: u32,
    /// RFC 7162 mod-sequence of its last change.
    pub modseq: u64,
    /// Current flags.
    pub flags: Flags,
    /// INTERNALDATE (Unix seconds): when it was received, or the date given to APPEND.
    pub internal_date: i64,
    /// SAVEDATE (RFC 8514, Unix seconds): when it was stored in this folder.
    pub saved_at: i64,
    /// RFC822.SIZE in octets.
    pub size: u64,
    /// The content's id (its SHA-256). Contents of at most [`crate::INLINE_CONTENT_MAX`]
    /// octets are stored in the database, not in the blob store: read them with
    /// [`MailStore::read_message`].
    pub blob: BlobId,
    /// Decoded Subject, for lists and SORT.
    pub subject: Option<String>,
    /// First From address as `mailbox@host`, for lists and SORT.
    pub from: Option<String>,
    /// The Date header (Unix seconds), for SORT DATE.
    pub sent_date: Option<i64>,
    /// Whether the message has attachments (for the webmail list).
    pub has_attachments: bool,
}

/// Where a delivered message goes in a mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetFolder {
    /// The INBOX.
    Inbox,
    /// The folder with this special use (Junk for spam, RCV-4); INBOX if the user deleted it.
    SpecialUse(SpecialUse),
    /// A folder by name (a user's filter rule); INBOX if there is no such folder, as RFC 5228
    /// §4.1 lets `fileinto` do rather than lose the message.
    Named(String),
}

/// One recipient mailbox of a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryTarget {
    /// The mailbox (a hosted address that holds mail).
    pub mailbox: AddressId,
    /// The folder in it.
    pub folder: TargetFolder,
}

impl DeliveryTarget {
    /// Deliver to the INBOX of `mailbox`.
    pub fn inbox(mailbox: AddressId) -> DeliveryTarget {
        DeliveryTarget {
            mailbox,
            folder: TargetFolder::Inbox,
        }
    }
}

/// Where a message was stored: what APPENDUID / COPYUID (RFC 4315) report.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The folder.
    pub folder: FolderId,
    /// The folder's UIDVALIDITY.
    pub uid_validity: u32,
    /// The message's UID there.
    pub uid: u32,
}

/// One message whose flags a STORE changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagChange {
    /// The message.
    pub uid: u32,
    /// Its flags now.
    pub flags: Flags,
    /// Its new MODSEQ.
    pub modseq: u64,
}

/// The outcome of a STORE.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FlagUpdate {
    /// Messages whose flags changed (a STORE that changes nothing bumps no MODSEQ).
    pub changed: Vec<FlagChange>,
    /// RFC 7162 §3.1.3: messages left alone because their MODSEQ was above UNCHANGEDSINCE
    /// (the MODIFIED response code).
    pub modified: Vec<u32>,
}

/// The outcome of an EXPUNGE.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Expunged {
    /// UIDs removed, ascending.
    pub uids: Vec<u32>,
    /// The folder's HIGHESTMODSEQ after the expunge (unchanged when nothing was removed).
    pub modseq: u64,
}

/// The outcome of a COPY or MOVE: COPYUID (RFC 4315 §3).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Copied {
    /// UIDVALIDITY of the destination.
    pub uid_validity: u32,
    /// `(source UID, destination UID)` pairs, ascending by source UID.
    pub uids: Vec<(u32, u32)>,
}

/// Folders and messages of mailboxes, with IMAP semantics.
///
/// Every method that changes a folder publishes a [`FolderEvent`] after its commit. Writes are
/// durable when the call returns (RCV-12). Ids that do not exist give `StoreError::NotFound`.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Receive the change events of `mailbox`'s folders published from now on, and no other
    /// mailbox's: a session wakes only for its own mailbox.
    fn subscribe(&self, mailbox: AddressId) -> broadcast::Receiver<FolderEvent>;

    /// The folders of a mailbox, by name. Empty for an unknown or mail-less address.
    async fn list_folders(&self, mailbox: AddressId) -> Result<Vec<Folder>, StoreError>;

    /// One folder by id.
    async fn folder(&self, folder: FolderId) -> Result<Option<Folder>, StoreError>;

    /// One folder by name (`inbox` in any case finds INBOX).
    async fn folder_by_name(
        &self,
        mailbox: AddressId,
        name: &str,
    ) -> Result<Option<Folder>, StoreError>;

    /// Create a folder, and its missing parents (RFC 9051 §6.3.4 says a server SHOULD), all
    /// subscribed. `Conflict` if it exists; `Rule` if the name is invalid.
    async fn create_folder(&self, mailbox: AddressId, name: &str) -> Result<Folder, StoreError>;

    /// Create a folder with a special use (CREATE-SPECIAL-USE, RFC 6154 §3), and its missing
    /// parents (without one), all subscribed. A mailbox has at most one folder per special
    /// use, so when another folder holds `special_use` nothing is created and the answer is
    /// `Refused`, naming that folder; `Conflict` if the name exists; `Rule` if it is invalid.
    async fn create_folder_with_use(
        &self,
        mailbox: AddressId,
        name: &str,
        special_use: SpecialUse,
    ) -> Result<Folder, StoreError>;

    /// Rename a folder and the folders below it (RFC 9051 §6.3.6); UIDs and UIDVALIDITY are
    /// kept. Renaming INBOX moves its messages into a new folder and leaves INBOX empty, as
    /// the RFC says. `Conflict` if the new name exists.
    async fn rename_folder(&self, folder: FolderId, new_name: &str) -> Result<Folder, StoreError>;

    /// Delete a folder and its messages. `Refused` for INBOX and for a folder that has
    /// subfolders (delete those first, as Dovecot also asks).
    async fn delete_folder(&self, folder: FolderId) -> Result<(), StoreError>;

    /// Subscribe or unsubscribe a folder.
    async fn set_subscribed(&self, folder: FolderId, subscribed: bool) -> Result<(), StoreError>;

    /// The counts of a folder.
    async fn status(&self, folder: FolderId) -> Result<FolderStatus, StoreError>;

    /// How many messages a folder holds and how many of them are not `\Seen`: the two counts
    /// a folder list shows, without the sizes [`MailStore::status`] adds up (which reads
    /// every message's content row: 100,000 lookups in a large folder).
    async fn unseen_counts(&self, folder: FolderId) -> Result<(u32, u32), StoreError>;

    /// Total size in octets of every message of a mailbox (ADDR-10 storage limit).
    async fn mailbox_usage(&self, mailbox: AddressId) -> Result<u64, StoreError>;

    /// Local delivery of one message to many mailboxes in one transaction: the content is
    /// written once (before the commit, RCV-12), then one message per target. The result has
    /// one entry per target, in order; a target given twice gets two messages (ADDR-6: an
    /// address and its alias both named as recipients). A target that is not a mailbox
    /// holding mail fails the whole delivery with `NotFound` and stores nothing.
    async fn deliver(
        &self,
        raw: &[u8],
        index: &MessageIndex,
        targets: &[DeliveryTarget],
        flags: &Flags,
        internal_date: i64,
    ) -> Result<Vec<Stored>, StoreError>;

    /// [`MailStore::deliver`] without duplicates (issue 10, RCV-12): a target whose mailbox
    /// already received a message of the same fingerprint since `fingerprint.since` gets
    /// nothing, and its entry in the result is `None`. The fingerprint is recorded for every
    /// delivered target in the delivery's own transaction, so a client that lost the `250`
    /// in a crash and sends the same message again finds it delivered exactly once.
    /// Fingerprints older than `since` are forgotten.
    async fn deliver_once(
        &self,
        raw: &[u8],
        index: &MessageIndex,
        targets: &[DeliveryTarget],
        flags: &Flags,
        internal_date: i64,
        fingerprint: Fingerprint,
    ) -> Result<Vec<Option<Stored>>, StoreError>;

    /// APPEND (RFC 9051 §6.3.12) one message to one folder.
    async fn append(
        &self,
        folder: FolderId,
        raw: &[u8],
        index: &MessageIndex,
        flags: &Flags,
        internal_date: i64,
    ) -> Result<Stored, StoreError>;

    /// What SELECT reports of a folder's messages, from one snapshot.
    async fn select_view(&self, folder: FolderId) -> Result<SelectView, StoreError>;

    /// The messages of a folder whose UID is in `uids`, ascending by UID, in one query.
    async fn list_messages(
        &self,
        folder: FolderId,
        uids: &UidSet,
    ) -> Result<Vec<MessageMeta>, StoreError>;

    /// The parse-once results (ENVELOPE, BODYSTRUCTURE, part offsets) of the messages whose UID
    /// is in `uids`, ascending by UID, in one query. Their `search_text` is empty: full-text
    /// search goes through [`MailStore::search_text`], and FETCH must not read megabytes of
    /// text it never sends.
    async fn message_indexes(
        &self,
        folder: FolderId,
        uids: &UidSet,
    ) -> Result<Vec<(u32, MessageIndex)>, StoreError>;

    /// What FETCH of FLAGS, UID, MODSEQ, RFC822.SIZE, INTERNALDATE, SAVEDATE, ENVELOPE and
    /// BODYSTRUCTURE needs, for the messages of `uids`, from one snapshot, with `parts`
    /// rendered in IMAP syntax (from the parse-once index, never from the message).
    ///
    /// The view answers for every message of `uids` up to [`FetchView::covered`]: a message
    /// of `uids` in that range that the view does not hold does not exist. That is all of
    /// `uids`, except when the backend bounds its memory: then at least the first 2,000 of
    /// them, and the caller asks again for the rest. The view may hold more than asked (a
    /// cached view of the whole folder). Never stale: it reflects every change committed
    /// before the call.
    async fn fetch_view(
        &self,
        folder: FolderId,
        uids: &UidSet,
        parts: FetchParts,
    ) -> Result<FetchView, StoreError>;

    /// The raw bytes of one message.
    async fn read_message(&self, folder: FolderId, uid: u32) -> Result<Vec<u8>, StoreError>;

    /// STORE: change the flags of the messages in `uids`. All messages changed get the same new
    /// MODSEQ. With `unchanged_since` (RFC 7162 UNCHANGEDSINCE), messages changed after that
    /// MODSEQ are left alone and reported in `modified`.
    async fn set_flags(
        &self,
        folder: FolderId,
        uids: &UidSet,
        op: FlagOp,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<FlagUpdate, StoreError>;

    /// EXPUNGE: remove the messages flagged `\Deleted`, only those in `uids` if given (UID
    /// EXPUNGE, RFC 4315 §2.1). Their content is destroyed once no folder references it.
    async fn expunge(
        &self,
        folder: FolderId,
        uids: Option<&UidSet>,
    ) -> Result<Expunged, StoreError>;

    /// COPY (RFC 9051 §6.4.7) to another folder of the same mailbox or of another one; the
    /// copies keep flags and INTERNALDATE and share the content.
    async fn copy_messages(
        &self,
        from: FolderId,
        uids: &UidSet,
        to: FolderId,
    ) -> Result<Copied, StoreError>;

    /// MOVE (RFC 6851): copy then expunge from the source, atomically.
    async fn move_messages(
        &self,
        from: FolderId,
        uids: &UidSet,
        to: FolderId,
    ) -> Result<Copied, StoreError>;

    /// QRESYNC (RFC 7162 §3.2.10): UIDs expunged from the folder after `modseq`, ascending.
    async fn vanished_since(&self, folder: FolderId, modseq: u64) -> Result<Vec<u32>, StoreError>;

    /// UIDs of the messages of the folder whose searchable text contains `needle`,
    /// case-insensitively (IMAP `SEARCH TEXT`/`BODY` are substring searches, RFC 9051
    /// §6.4.4), ascending.
    async fn search_text(&self, folder: FolderId, needle: &str) -> Result<Vec<u32>, StoreError>;

    /// UIDs of the messages of the folder whose body text contains `needle`,
    /// case-insensitively, ascending: IMAP `SEARCH BODY` (RFC 9051 §6.4.4), which unlike
    /// [`MailStore::search_text`] ignores the message's own header fields. The body is
    /// everything after them: text parts, and nested messages with their header fields.
    async fn search_body(&self, folder: FolderId, needle: &str) -> Result<Vec<u32>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_set_normalises_ranges() {
        let set = UidSet::from_ranges([(7, 5), (1, 2), (3, 3), (10, 12), (0, 0), (11, 20)]);
        assert_eq!(set.ranges(), &[(1, 3), (5, 7), (10, 20)]);
        assert!(set.contains(6) && set.contains(20) && !set.contains(4) && !set.contains(0));
        assert_eq!(set.bounds(), Some((1, 20)));
        assert!(UidSet::from_uids([]).is_empty());
        assert_eq!(UidSet::from_ranges([(0, 3)]).ranges(), &[(1, 3)]);
        assert_eq!(
            UidSet::from_ranges([(5, u32::MAX), (1, 4)]).ranges(),
            &[(1, u32::MAX)]
        );
    }

    #[test]
    fn keywords_are_atoms() {
        for good in ["$Junk", "$Forwarded", "NonJunk", "a", &"k".repeat(255)] {
            assert!(Keyword::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "two words",
            "a(b",
            "a]",
            "50%",
            "x*",
            "q\"",
            "back\\slash",
            "é",
            "\t",
            &"k".repeat(256),
        ] {
            assert!(Keyword::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn flag_ops_follow_store_semantics() {
        let junk = Keyword::parse("$Junk").expect("keyword");
        let start = Flags::system(SystemFlags::SEEN).with_keyword(junk.clone());
        let change = Flags::system(SystemFlags::FLAGGED.union(SystemFlags::SEEN));
        let added = start.apply(FlagOp::Add, &change);
        assert_eq!(added.system, SystemFlags::SEEN.union(SystemFlags::FLAGGED));
        assert!(added.keywords.contains(&junk));
        let removed = added.apply(
            FlagOp::Remove,
            &Flags::system(SystemFlags::SEEN).with_keyword(junk),
        );
        assert_eq!(removed, Flags::system(SystemFlags::FLAGGED));
        assert_eq!(start.apply(FlagOp::Replace, &Flags::none()), Flags::none());
        assert_eq!(SystemFlags::from_name("\\seen"), Some(SystemFlags::SEEN));
        assert_eq!(SystemFlags::from_name("\\Recent"), None);
        assert_eq!(SystemFlags::from_bits(0xff).bits(), 0x1f);
    }
}
