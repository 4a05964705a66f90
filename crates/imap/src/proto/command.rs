//! The commands a client sends, as typed values (RFC 3501 and RFC 9051 §6, with the extensions
//! the server advertises). [`super::parse`] produces them; nothing here does I/O.
//!
//! Values stay close to the wire where their meaning depends on session state: mailbox names
//! are kept as sent ([`MailboxName`]) because whether they are modified UTF-7 or UTF-8 depends
//! on `ENABLE UTF8=ACCEPT`/`IMAP4rev2`; flags are kept as their atoms because which keywords a
//! folder accepts is the store's business.

use chrono::{DateTime, FixedOffset, NaiveDate};
pub use postwerk_core::sasl::Secret;

/// One complete command: its tag and what it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The client's tag, echoed in the tagged response (RFC 9051 §2.2.1).
    pub tag: String,
    /// The command itself.
    pub body: CommandBody,
}

/// A mailbox name exactly as the client sent it (astring or literal), not yet decoded.
///
/// RFC 9051 §5.1: IMAP4rev1 clients send modified UTF-7 (RFC 3501 §5.1.3); after
/// `ENABLE IMAP4rev2` or `ENABLE UTF8=ACCEPT` (RFC 6855) names are UTF-8. The session decodes
/// with [`super::mutf7`] accordingly. `INBOX` in any case means INBOX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxName(pub Vec<u8>);

/// One number of a sequence set (RFC 9051 §9 `seq-number`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    /// A message sequence number or UID (never 0).
    Value(u32),
    /// `*`: the largest number in use (the last message; UIDNEXT-1 for UIDs).
    Largest,
}

/// A sequence set (RFC 9051 §9 `sequence-set`), or `$` (RFC 5182 SEARCHRES).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    /// Ranges as sent: `a:b` is the same as `b:a`; a single number is a range of one.
    Ranges(Vec<(SeqNumber, SeqNumber)>),
    /// `$`: the result saved by the last `SEARCH RETURN (SAVE)`.
    Saved,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    // ---- any state (RFC 9051 §6.1) ----
    /// CAPABILITY.
    Capability,
    /// NOOP.
    Noop,
    /// LOGOUT.
    Logout,
    /// ID (RFC 2971): the client's field/value pairs, `None` for `ID NIL`.
    Id(Option<Vec<(String, Option<String>)>>),

    // ---- not authenticated (§6.2) ----
    /// STARTTLS.
    StartTls,
    /// AUTHENTICATE with the mechanism name (upper-cased) and the SASL-IR initial response
    /// (RFC 4959) as sent: base64 text, or `=` for an empty response.
    Authenticate {
        /// Mechanism, upper case (`PLAIN`).
        mechanism: String,
        /// The initial response, still base64; a secret (it holds the password).
        initial: Option<Secret>,
    },
    /// LOGIN user password.
    Login {
        /// The user name (astring).
        user: String,
        /// The password (astring), hidden from `Debug` and wiped on drop.
        password: Secret,
    },

    // ---- authenticated (§6.3) ----
    /// ENABLE (RFC 5161) with the capability names, upper-cased.
    Enable(Vec<String>),
    /// SELECT (read-write) or EXAMINE (read-only).
    Select {
        /// The folder.
        mailbox: MailboxName,
        /// EXAMINE rather than SELECT.
        read_only: bool,
        /// CONDSTORE/QRESYNC select parameters (RFC 7162 §3.1.8, §3.2.5).
        params: SelectParams,
    },
    /// CREATE, with the RFC 6154 §3 `USE (...)` attributes if given.
    Create {
        /// The new folder.
        mailbox: MailboxName,
        /// Special-use attributes to set, as sent (`\Sent`, …).
        special_use: Vec<String>,
    },
    /// DELETE.
    Delete(MailboxName),
    /// RENAME.
    Rename {
        /// Existing name.
        from: MailboxName,
        /// New name.
        to: MailboxName,
    },
    /// SUBSCRIBE.
    Subscribe(MailboxName),
    /// UNSUBSCRIBE.
    Unsubscribe(MailboxName),
    /// LIST, basic or extended (RFC 5258, RFC 5819, RFC 6154).
    List(ListCommand),
    /// LSUB reference pattern (IMAP4rev1).
    Lsub {
        /// Reference name as sent.
        reference: MailboxName,
        /// Pattern with `*` and `%`, as sent.
        pattern: MailboxName,
    },
    /// NAMESPACE (RFC 2342).
    Namespace,
    /// STATUS mailbox (items).
    Status {
        /// The folder.
        mailbox: MailboxName,
        /// What to report.
        items: Vec<StatusItem>,
    },
    /// APPEND, one message or several (MULTIAPPEND, RFC 3502).
    Append {
        /// The destination folder.
        mailbox: MailboxName,
        /// The messages, in order.
        messages: Vec<AppendMessage>,
    },
    /// IDLE (RFC 2177); the session then waits for `DONE`.
    Idle,
    /// GETQUOTA root (RFC 9208).
    GetQuota(String),
    /// GETQUOTAROOT mailbox (RFC 9208).
    GetQuotaRoot(MailboxName),
    /// SETQUOTA root (resource limit ...) (RFC 9208).
    SetQuota {
        /// The quota root.
        root: String,
        /// `(resource name upper-cased, limit)` pairs.
        limits: Vec<(String, u64)>,
    },
    /// COMPRESS mechanism (RFC 4978), upper-cased.
    Compress(String),

    // ---- selected (§6.4) ----
    /// CHECK (IMAP4rev1 only; a NOOP here).
    Check,
    /// CLOSE.
    Close,
    /// UNSELECT (RFC 3691).
    Unselect,
    /// EXPUNGE, or UID EXPUNGE set (RFC 4315 §2.1).
    Expunge {
        /// Only these UIDs (UID EXPUNGE).
        uids: Option<SequenceSet>,
    },
    /// SEARCH or UID SEARCH, with RETURN options (RFC 4731, RFC 5182).
    Search {
        /// UID SEARCH.
        uid: bool,
        /// The CHARSET given, upper-cased.
        charset: Option<String>,
        /// The criteria; several top-level keys are ANDed into one [`SearchKey::And`].
        criteria: SearchKey,
        /// `RETURN (...)`: `None` for a plain SEARCH (untagged `SEARCH` response, IMAP4rev1),
        /// `Some(vec![])` for `RETURN ()` (means ALL, RFC 4731 §3.1).
        returns: Option<Vec<SearchReturn>>,
    },
    /// FETCH or UID FETCH.
    Fetch {
        /// UID FETCH.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// What to return; the macros ALL, FAST and FULL are expanded.
        items: Vec<FetchAttr>,
        /// `CHANGEDSINCE modseq` (RFC 7162 §3.1.4).
        changed_since: Option<u64>,
        /// `VANISHED` (RFC 7162 §3.2.6; UID FETCH only, with CHANGEDSINCE).
        vanished: bool,
    },
    /// STORE or UID STORE.
    Store {
        /// UID STORE.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// `FLAGS`, `+FLAGS` or `-FLAGS`.
        op: StoreOp,
        /// `.SILENT`.
        silent: bool,
        /// The flags, as their atoms (`\Seen`, `$Forwarded`).
        flags: Vec<String>,
        /// `UNCHANGEDSINCE modseq` (RFC 7162 §3.1.3).
        unchanged_since: Option<u64>,
    },
    /// COPY or UID COPY.
    Copy {
        /// UID COPY.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// The destination.
        mailbox: MailboxName,
    },
    /// MOVE or UID MOVE (RFC 6851).
    Move {
        /// UID MOVE.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// The destination.
        mailbox: MailboxName,
    },
    /// SORT or UID SORT (RFC 5256), with ESORT RETURN options (RFC 5267) if given.
    Sort {
        /// UID SORT.
        uid: bool,
        /// Sort keys in order of precedence.
        criteria: Vec<SortCriterion>,
        /// The charset, upper-cased (mandatory in SORT).
        charset: String,
        /// Which messages to sort.
        search: SearchKey,
        /// ESORT `RETURN (...)`, as for SEARCH.
        returns: Option<Vec<SearchReturn>>,
    },
    /// THREAD or UID THREAD (RFC 5256).
    Thread {
        /// UID THREAD.
        uid: bool,
        /// The algorithm.
        algorithm: ThreadAlgorithm,
        /// The charset, upper-cased.
        charset: String,
        /// Which messages to thread.
        search: SearchKey,
    },
}

/// CONDSTORE/QRESYNC parameters of SELECT and EXAMINE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectParams {
    /// `(CONDSTORE)` (RFC 7162 §3.1.8).
    pub condstore: bool,
    /// `(QRESYNC (...))` (RFC 7162 §3.2.5).
    pub qresync: Option<QResync>,
}

/// The QRESYNC select parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    /// The UIDVALIDITY the client knows.
    pub uid_validity: u32,
    /// The last MODSEQ the client knows.
    pub modseq: u64,
    /// The UIDs the client knows, if sent.
    pub known_uids: Option<SequenceSet>,
    /// Sequence-match data: (message sequence numbers, the UIDs they match).
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// A LIST command, basic (RFC 9051 §6.3.9) or extended (RFC 5258).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCommand {
    /// Selection options (RFC 5258 §3.1).
    pub selection: Vec<ListSelect>,
    /// The reference name, as sent.
    pub reference: MailboxName,
    /// One pattern, or several in parentheses (RFC 5258 §3), as sent.
    pub patterns: Vec<MailboxName>,
    /// Return options (RFC 5258 §3.2, RFC 5819, RFC 6154).
    pub returns: Vec<ListReturn>,
}

/// LIST selection options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSelect {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `REMOTE` (no remote folders here; accepted and ignored).
    Remote,
    /// `RECURSIVEMATCH`.
    RecursiveMatch,
    /// `SPECIAL-USE` (RFC 6154 §4).
    SpecialUse,
}

/// LIST return options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturn {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `CHILDREN`.
    Children,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// `STATUS (...)` (RFC 5819).
    Status(Vec<StatusItem>),
}

/// A STATUS data item (RFC 9051 §6.3.11, RFC 7162, RFC 8438, RFC 7889).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// MESSAGES.
    Messages,
    /// RECENT (IMAP4rev1; always 0 here).
    Recent,
    /// UIDNEXT.
    UidNext,
    /// UIDVALIDITY.
    UidValidity,
    /// UNSEEN.
    Unseen,
    /// DELETED (RFC 9051).
    Deleted,
    /// SIZE (RFC 8438 STATUS=SIZE).
    Size,
    /// HIGHESTMODSEQ (RFC 7162).
    HighestModSeq,
    /// APPENDLIMIT (RFC 7889).
    AppendLimit,
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// Flags to set, as their atoms.
    pub flags: Vec<String>,
    /// The INTERNALDATE to give it.
    pub date: Option<DateTime<FixedOffset>>,
    /// The message bytes.
    pub data: Vec<u8>,
    /// Sent as `literal8` (`~{n}`, RFC 3516 BINARY): may hold NUL octets.
    pub binary: bool,
}

/// How STORE combines the given flags with the current ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// A FETCH data item (RFC 9051 §6.4.5, RFC 3516, RFC 7162, RFC 8514).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    /// ENVELOPE.
    Envelope,
    /// FLAGS.
    Flags,
    /// INTERNALDATE.
    InternalDate,
    /// RFC822.SIZE.
    Rfc822Size,
    /// UID.
    Uid,
    /// BODYSTRUCTURE (with extension data).
    BodyStructure,
    /// BODY without a section: the non-extensible BODYSTRUCTURE.
    Body,
    /// RFC822 (IMAP4rev1): the whole message, sets `\Seen`.
    Rfc822,
    /// RFC822.HEADER (IMAP4rev1): the header, does not set `\Seen`.
    Rfc822Header,
    /// RFC822.TEXT (IMAP4rev1): the body, sets `\Seen`.
    Rfc822Text,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// The section.
        section: Section,
        /// `<offset.length>`.
        partial: Option<(u32, u32)>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516).
    Binary {
        /// `.PEEK`.
        peek: bool,
        /// The part path; empty for the whole message.
        part: Vec<u32>,
        /// `<offset.length>`.
        partial: Option<(u32, u32)>,
    },
    /// `BINARY.SIZE[part]` (RFC 3516).
    BinarySize {
        /// The part path.
        part: Vec<u32>,
    },
    /// MODSEQ (RFC 7162).
    ModSeq,
    /// SAVEDATE (RFC 8514).
    SaveDate,
}

/// A body section (RFC 9051 §6.4.5 `section`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// Part numbers (`1.2.3`); empty for the whole message.
    pub part: Vec<u32>,
    /// What of the part; `None` for the part's whole content.
    pub text: Option<SectionText>,
}

/// The text specifier of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (names)`, names as sent.
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (names)`.
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`.
    Text,
    /// `MIME` (only after a part number).
    Mime,
}

/// A search key (RFC 9051 §6.4.4, RFC 7162 MODSEQ, RFC 5032 WITHIN, RFC 8514 SAVEDATE).
///
/// Strings are UTF-8 (a CHARSET other than US-ASCII and UTF-8 is refused before parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// Several keys that must all match (a parenthesised list, or the top level).
    And(Vec<SearchKey>),
    /// ALL.
    All,
    /// ANSWERED.
    Answered,
    /// BCC string.
    Bcc(String),
    /// BEFORE date (INTERNALDATE, date only).
    Before(NaiveDate),
    /// BODY string.
    Body(String),
    /// CC string.
    Cc(String),
    /// DELETED.
    Deleted,
    /// DRAFT.
    Draft,
    /// FLAGGED.
    Flagged,
    /// FROM string.
    From(String),
    /// HEADER field-name string.
    Header(String, String),
    /// KEYWORD flag.
    Keyword(String),
    /// LARGER n.
    Larger(u64),
    /// NEW (IMAP4rev1: RECENT and UNSEEN; never matches here).
    New,
    /// NOT key.
    Not(Box<SearchKey>),
    /// OLD (IMAP4rev1: NOT RECENT; matches everything here).
    Old,
    /// ON date.
    On(NaiveDate),
    /// OR key key.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// RECENT (IMAP4rev1; never matches here).
    Recent,
    /// SEEN.
    Seen,
    /// SENTBEFORE date (the Date header).
    SentBefore(NaiveDate),
    /// SENTON date.
    SentOn(NaiveDate),
    /// SENTSINCE date.
    SentSince(NaiveDate),
    /// SINCE date.
    Since(NaiveDate),
    /// SMALLER n.
    Smaller(u64),
    /// SUBJECT string.
    Subject(String),
    /// TEXT string (header and body).
    Text(String),
    /// TO string.
    To(String),
    /// UID set.
    Uid(SequenceSet),
    /// UNANSWERED.
    Unanswered,
    /// UNDELETED.
    Undeleted,
    /// UNDRAFT.
    Undraft,
    /// UNFLAGGED.
    Unflagged,
    /// UNKEYWORD flag.
    Unkeyword(String),
    /// UNSEEN.
    Unseen,
    /// A bare sequence set: message sequence numbers.
    Sequence(SequenceSet),
    /// MODSEQ [entry-name entry-type] n (RFC 7162 §3.1.5): the entry is ignored, as the RFC
    /// allows a server without per-flag mod-sequences to do.
    ModSeq(u64),
    /// OLDER seconds (RFC 5032).
    Older(u64),
    /// YOUNGER seconds (RFC 5032).
    Younger(u64),
    /// SAVEDBEFORE date (RFC 8514).
    SavedBefore(NaiveDate),
    /// SAVEDON date.
    SavedOn(NaiveDate),
    /// SAVEDSINCE date.
    SavedSince(NaiveDate),
    /// SAVEDATESUPPORTED (always true here).
    SaveDateSupported,
}

/// ESEARCH return options (RFC 4731 §3.1, RFC 5182 SAVE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturn {
    /// MIN.
    Min,
    /// MAX.
    Max,
    /// ALL.
    All,
    /// COUNT.
    Count,
    /// SAVE (RFC 5182).
    Save,
}

/// A SORT key (RFC 5256 §3), possibly reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    /// `REVERSE` before the key.
    pub reverse: bool,
    /// The key.
    pub key: SortKey,
}

/// The SORT keys of RFC 5256 (and DISPLAYFROM/DISPLAYTO of RFC 5957).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// ARRIVAL: INTERNALDATE.
    Arrival,
    /// CC: first Cc mailbox.
    Cc,
    /// DATE: the Date header (INTERNALDATE when missing).
    Date,
    /// FROM: first From mailbox.
    From,
    /// SIZE.
    Size,
    /// SUBJECT: the base subject.
    Subject,
    /// TO: first To mailbox.
    To,
    /// DISPLAYFROM (RFC 5957).
    DisplayFrom,
    /// DISPLAYTO (RFC 5957).
    DisplayTo,
}

/// THREAD algorithms (RFC 5256 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    /// ORDEREDSUBJECT.
    OrderedSubject,
    /// REFERENCES.
    References,
}

impl SequenceSet {
    /// Whether `n` is in the set, `*` standing for `largest` (RFC 9051 §9: `a:b` covers the
    /// same numbers as `b:a`). `$` is resolved by the session before this is asked, so a
    /// [`SequenceSet::Saved`] contains nothing.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        match self {
            SequenceSet::Saved => false,
            SequenceSet::Ranges(ranges) => ranges.iter().any(|&(a, b)| {
                let (low, high) = ordered(resolve(a, largest), resolve(b, largest));
                (low..=high).contains(&n)
            }),
        }
    }

    /// The ranges with `*` replaced by `largest`, each as `(low, high)`, in the order sent.
    /// Empty for [`SequenceSet::Saved`].
    pub fn resolved(&self, largest: u32) -> Vec<(u32, u32)> {
        match self {
            SequenceSet::Saved => Vec::new(),
            SequenceSet::Ranges(ranges) => ranges
                .iter()
                .map(|&(a, b)| ordered(resolve(a, largest), resolve(b, largest)))
                .collect(),
        }
    }
}

fn resolve(number: SeqNumber, largest: u32) -> u32 {
    match number {
        SeqNumber::Value(n) => n,
        SeqNumber::Largest => largest,
    }
}

fn ordered(a: u32, b: u32) -> (u32, u32) {
    if a <= b { (a, b) } else { (b, a) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_sets_resolve_star_and_reversed_ranges() {
        let set = SequenceSet::Ranges(vec![
            (SeqNumber::Value(5), SeqNumber::Value(3)),
            (SeqNumber::Value(9), SeqNumber::Largest),
        ]);
        assert_eq!(set.resolved(12), vec![(3, 5), (9, 12)]);
        assert!(set.contains(4, 12) && set.contains(12, 12) && !set.contains(6, 12));
        // `*` below the other end: `20:*` with 12 messages is `12:20`.
        let high = SequenceSet::Ranges(vec![(SeqNumber::Value(20), SeqNumber::Largest)]);
        assert!(high.contains(12, 12));
        assert!(!SequenceSet::Saved.contains(1, 1));
    }
}
