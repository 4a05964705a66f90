//! FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9), with the CONDSTORE `CHANGEDSINCE` modifier
//! and `MODSEQ` item (RFC 7162 §3.1.4) and the QRESYNC `VANISHED` modifier (RFC 7162 §3.2.6).
//!
//! The store is asked once per kind of data, never once per message for what a query can
//! answer. When every item is FLAGS, UID, MODSEQ, RFC822.SIZE, INTERNALDATE, SAVEDATE,
//! ENVELOPE or BODYSTRUCTURE, `fetch_view` answers (the store's cached view of the folder, with
//! ENVELOPE and BODYSTRUCTURE already rendered: one store call per command; a slice at a time
//! for a folder too large for the cache).
//! Otherwise, per slice: one `list_messages` for the metas, one `set_flags` for the `\Seen` a
//! body fetch sets, one `message_indexes` when an item needs ENVELOPE/BODYSTRUCTURE or part
//! offsets; only the raw contents are read per message, and only when a body item is asked.
//! Rendering is [`crate::fetch`]'s.
//!
//! ```text
//!  set ──► resolve (`$`, seq → UID, BAD beyond EXISTS)
//!     ──► [VANISHED (EARLIER)] ──► view items only? ──► fetch_view (CHANGEDSINCE filter)
//!     ──► else metas (CHANGEDSINCE filter) ──► [\Seen] ──► [indexes]
//!     ──► per message: [content] ──► write_fetch ──► flush past 256 KiB
//!     ──► changes by others (no expunges, RFC 9051 §7.5.1) ──► tagged OK
//! ```
//!
//! This file also holds two helpers the other message commands share: [`resolve`] (a sequence
//! set as the session's messages) and [`enable_condstore`] (RFC 7162 §3.1).

use std::collections::BTreeSet;
use std::io::Write as _;

use postwerk_message::MessageIndex;
use postwerk_store::{
    FetchParts, FetchView, FlagOp, Flags, MessageMeta, StoreError, SystemFlags, UidSet,
};

use crate::fetch::{self, FetchError, FetchMessage, FetchOptions, Strings};
use crate::ops::store_error;
use crate::proto::{FetchAttr, SequenceSet};
use crate::response::Status;
use crate::selected::Selected;
use crate::session::{Connection, Flow, Session};

/// Output held before it is sent in the middle of a FETCH, so that a FETCH of many large
/// messages does not build the whole answer in memory first.
const FLUSH_AT: usize = 256 * 1024;

/// A FETCH or UID FETCH as parsed.
pub(crate) struct Request {
    /// UID FETCH: the set holds UIDs and every response carries UID (RFC 9051 §6.4.9).
    pub uid: bool,
    /// Which messages.
    pub set: SequenceSet,
    /// What to return (macros already expanded by the parser).
    pub items: Vec<FetchAttr>,
    /// `CHANGEDSINCE n` (RFC 7162 §3.1.4.1): only messages whose MODSEQ is above `n`.
    pub changed_since: Option<u64>,
    /// `VANISHED` (RFC 7162 §3.2.6): also report the UIDs of the set expunged since
    /// `changed_since`.
    pub vanished: bool,
}

/// FETCH / UID FETCH.
pub(crate) async fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    request: Request,
) -> Flow {
    let Some(selected) = &session.selected else {
        return session.answer(conn, Status::bad(tag, "No folder selected"));
    };
    // RFC 7162 §3.2.6: VANISHED needs ENABLE QRESYNC, UID FETCH and CHANGEDSINCE (the parser
    // checks the last two already; a BAD either way).
    if request.vanished && !session.enabled.qresync {
        return session.answer(conn, Status::bad(tag, "VANISHED needs ENABLE QRESYNC"));
    }
    if request.vanished && (!request.uid || request.changed_since.is_none()) {
        return session.answer(
            conn,
            Status::bad(tag, "VANISHED needs UID FETCH with CHANGEDSINCE"),
        );
    }
    let targets = match resolve(selected, &session.saved_search, &request.set, request.uid) {
        Ok(targets) => targets,
        Err(why) => return session.answer(conn, Status::bad(tag, why)),
    };
    let read_only = selected.read_only;
    // RFC 7162 §3.1: CHANGEDSINCE and the MODSEQ item are CONDSTORE enabling commands.
    if request.changed_since.is_some() || request.items.contains(&FetchAttr::ModSeq) {
        enable_condstore(session, conn);
    }
    if request.vanished
        && let Some(since) = request.changed_since
        && let Err(error) = report_vanished(session, conn, &request.set, since).await
    {
        return session.answer(conn, store_error(tag, error));
    }
    let status = match respond(session, conn, tag, &request, &targets, read_only).await {
        Ok(status) => status,
        Err(Stop::Store(error)) => store_error(tag, error),
        Err(Stop::Connection) => return Flow::Close,
    };
    // RFC 9051 §7.5.1: no EXPUNGE while answering FETCH; flag changes and new messages may go.
    session.report_changes(conn, false).await;
    session.answer(conn, status)
}

/// The messages a sequence set names in the session, as `(sequence number, UID)` ascending.
///
/// `$` (RFC 5182, RFC 9051 §6.4.4.1) is the saved result — UIDs, whatever command saved them —
/// minus the messages expunged since; an empty `$` is valid and names nothing. A message
/// sequence number beyond EXISTS (and `*` in an empty folder) is an error, answered `BAD`
/// (RFC 9051 §9, `seq-number`); UID ranges need not match anything (§6.4.9).
pub(crate) fn resolve(
    selected: &Selected,
    saved: &[u32],
    set: &SequenceSet,
    uid: bool,
) -> Result<Vec<(u32, u32)>, &'static str> {
    match set {
        SequenceSet::Saved => {
            let mut found: Vec<(u32, u32)> = saved
                .iter()
                .filter_map(|&uid| selected.seq(uid).map(|seq| (seq, uid)))
                .collect();
            found.sort_unstable();
            found.dedup();
            Ok(found)
        }
        SequenceSet::Ranges(_) if !uid && !selected.seq_set_valid(set) => {
            Err("Message sequence number beyond the last message")
        }
        SequenceSet::Ranges(_) => Ok(selected.resolve(set, uid)),
    }
}

/// Turns CONDSTORE on for a command that uses it (RFC 7162 §3.1 "CONDSTORE enabling
/// commands"). The first such command with a folder selected reports the folder's
/// HIGHESTMODSEQ (§3.1: "MUST cause the server to return HIGHESTMODSEQ"), here the highest
/// MODSEQ this session has seen.
pub(crate) fn enable_condstore(session: &mut Session, conn: &mut Connection) {
    if session.enabled.condstore {
        return;
    }
    session.enabled.condstore = true;
    if let Some(selected) = &session.selected {
        let _ = write!(
            conn.output(),
            "* OK [HIGHESTMODSEQ {}] Highest\r\n",
            selected.modseq
        );
    }
}

/// The tagged answer when some messages asked for were expunged by another session and the
/// client has not been told yet (RFC 5530 §3).
pub(crate) fn expunge_issued(tag: &str) -> Status {
    Status::no(tag, "Some of the requested messages no longer exist").code("EXPUNGEISSUED")
}

/// Pairs items listed by UID (ascending, as the store lists them) with the UIDs they belong
/// to: one slot per UID of `uids` (ascending), `None` where the store had nothing.
pub(crate) fn align<T>(
    uids: impl IntoIterator<Item = u32>,
    items: Vec<(u32, T)>,
) -> Vec<Option<T>> {
    let mut items = items.into_iter().peekable();
    uids.into_iter()
        .map(|uid| {
            // Skip what the store listed that was not asked (it cannot, but a merge must not
            // stall on it).
            while items.next_if(|(at, _)| *at < uid).is_some() {}
            items.next_if(|(at, _)| *at == uid).map(|(_, item)| item)
        })
        .collect()
}

/// Why a FETCH stopped before its tagged response.
enum Stop {
    /// A store call failed: answered `NO`.
    Store(StoreError),
    /// The connection failed while flushing: the session ends.
    Connection,
}

/// Writes the FETCH responses and returns the tagged status to send after the updates.
async fn respond(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    request: &Request,
    targets: &[(u32, u32)],
    read_only: bool,
) -> Result<Status, Stop> {
    let done = Status::ok(
        tag,
        if request.uid {
            "UID FETCH completed"
        } else {
            "FETCH completed"
        },
    );
    let Some(folder) = session.selected.as_ref().map(|s| s.folder) else {
        return Ok(done);
    };
    let mut failure = None;
    if let Some(parts) = fetch::view_parts(&request.items) {
        return respond_from_views(session, conn, tag, request, folder, targets, parts)
            .await
            .map(|failure| failure.unwrap_or(done));
    }
    // In slices, each read with one query per kind and written before the next is read: a
    // `FETCH 1:*` of 100,000 messages then holds one slice in memory, not the folder, and the
    // client gets its first responses at once.
    for slice in targets.chunks(FETCH_SLICE) {
        if let Some(status) =
            respond_slice(session, conn, tag, request, folder, slice, read_only).await?
        {
            failure.get_or_insert(status);
        }
    }
    Ok(failure.unwrap_or(done))
}

/// Messages read and answered per slice of a large FETCH.
const FETCH_SLICE: usize = 2000;

/// Writes the FETCH responses when the store's folder view answers every item (see
/// [`fetch::view_parts`]): no body is read, so no `\Seen` is set. The store is asked for all
/// the messages at once; a folder it caches answers them all (one store call per command),
/// a folder too large for its cache a slice at a time, the next slice asked once the view's
/// [`FetchView::covered`] range is passed (bounded memory). Returns the failure to report, if
/// any.
async fn respond_from_views(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    request: &Request,
    folder: postwerk_model::FolderId,
    targets: &[(u32, u32)],
    parts: FetchParts,
) -> Result<Option<Status>, Stop> {
    let mail = session.server.mail.clone();
    let condstore = session.enabled.condstore;
    let strings = strings(session);
    let options = options(request, condstore, false);
    let mut failure = None;
    let mut view = FetchView::default();
    for (at, &(seq, uid)) in targets.iter().enumerate() {
        let (low, high) = view.covered();
        if uid < low || uid > high {
            let rest = UidSet::from_uids(targets[at..].iter().map(|&(_, uid)| uid));
            view = mail
                .fetch_view(folder, &rest, parts)
                .await
                .map_err(Stop::Store)?;
            let (low, high) = view.covered();
            if uid < low || uid > high {
                // The store promises at least the first UID asked; never loop on it.
                return Err(Stop::Store(StoreError::Backend {
                    context: "reading a folder view",
                    detail: format!("the view does not answer for UID {uid}"),
                }));
            }
        }
        // Expunged by others but still known to this session: see `respond_slice`.
        let Some(record) = view.get(uid) else {
            failure.get_or_insert_with(|| expunge_issued(tag));
            continue;
        };
        // RFC 7162 §3.1.4.1: only messages whose MODSEQ is bigger than CHANGEDSINCE.
        if request
            .changed_since
            .is_some_and(|since| record.modseq <= since)
        {
            continue;
        }
        let message = FetchMessage {
            meta: record.into(),
            index: None,
            content: None,
        };
        if let Err(error) = fetch::write_fetch_with(
            conn.output(),
            seq,
            &message,
            &request.items,
            &options,
            strings,
        ) {
            failure.get_or_insert_with(|| fetch_failure(tag, &error));
        }
        if conn.pending_output() >= FLUSH_AT
            && let Err(error) = conn.flush().await
        {
            tracing::debug!(%error, "connection failed during FETCH");
            return Err(Stop::Connection);
        }
    }
    Ok(failure)
}

/// Writes the FETCH responses of one slice of `targets`; returns the failure to report, if any.
async fn respond_slice(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    request: &Request,
    folder: postwerk_model::FolderId,
    targets: &[(u32, u32)],
    read_only: bool,
) -> Result<Option<Status>, Stop> {
    let mail = session.server.mail.clone();
    let uids = UidSet::from_uids(targets.iter().map(|&(_, uid)| uid));
    let listed = mail
        .list_messages(folder, &uids)
        .await
        .map_err(Stop::Store)?;
    // Messages expunged by others but still known to this session are not listed: the others
    // are answered, then a tagged NO says some are gone (RFC 2180 §4.1.2, RFC 5530
    // EXPUNGEISSUED), so a client never takes a missing response for an empty message.
    let mut messages = with_sequence_numbers(targets, listed);
    let mut failure: Option<Status> = (messages.len() < targets.len()).then(|| expunge_issued(tag));
    if let Some(since) = request.changed_since {
        // RFC 7162 §3.1.4.1: only messages whose MODSEQ is bigger than CHANGEDSINCE.
        messages.retain(|(_, meta)| meta.modseq > since);
    }
    if messages.is_empty() {
        return Ok(failure);
    }
    // RFC 9051 §6.4.5: a body fetch without .PEEK sets \Seen, except on EXAMINE (§6.3.3).
    let seen_now = if fetch::sets_seen(&request.items) && !read_only {
        mark_seen(session, folder, &mut messages)
            .await
            .map_err(Stop::Store)?
    } else {
        BTreeSet::new()
    };
    let needs = fetch::needs(&request.items);
    let mut indexes = if needs.index {
        let uids = UidSet::from_uids(messages.iter().map(|(_, m)| m.uid));
        let listed = mail
            .message_indexes(folder, &uids)
            .await
            .map_err(Stop::Store)?;
        align(messages.iter().map(|(_, m)| m.uid), listed)
    } else {
        Vec::new()
    };
    let condstore = session.enabled.condstore;
    let strings = strings(session);
    for (at, (seq, meta)) in messages.iter().enumerate() {
        let content = if needs.content {
            match mail.read_message(folder, meta.uid).await {
                Ok(content) => Some(content),
                // Expunged since it was listed: like any message gone meanwhile.
                Err(StoreError::NotFound(_)) => {
                    failure.get_or_insert_with(|| expunge_issued(tag));
                    continue;
                }
                Err(error) => return Err(Stop::Store(error)),
            }
        } else {
            None
        };
        let index: Option<MessageIndex> = indexes.get_mut(at).and_then(Option::take);
        let message = FetchMessage {
            meta: meta.into(),
            index: index.as_ref(),
            content: content.as_deref(),
        };
        let options = options(request, condstore, seen_now.contains(&meta.uid));
        if let Err(error) = fetch::write_fetch_with(
            conn.output(),
            *seq,
            &message,
            &request.items,
            &options,
            strings,
        ) {
            // One message that cannot be rendered fails the command, not the others' answers.
            failure.get_or_insert_with(|| fetch_failure(tag, &error));
        }
        if conn.pending_output() >= FLUSH_AT
            && let Err(error) = conn.flush().await
        {
            tracing::debug!(%error, "connection failed during FETCH");
            return Err(Stop::Connection);
        }
    }
    Ok(failure)
}

/// Pairs the listed metas with the sequence numbers of `targets` (both ascending by UID,
/// since sequence numbers follow UIDs).
fn with_sequence_numbers(
    targets: &[(u32, u32)],
    listed: Vec<MessageMeta>,
) -> Vec<(u32, MessageMeta)> {
    listed
        .into_iter()
        .filter_map(|meta| {
            let at = targets
                .binary_search_by_key(&meta.uid, |&(_, uid)| uid)
                .ok()?;
            Some((targets[at].0, meta))
        })
        .collect()
}

/// Sets `\Seen` on the messages that lack it, in one store call, and updates their metas so
/// the responses carry the new flags. Returns the UIDs whose flags changed.
async fn mark_seen(
    session: &mut Session,
    folder: postwerk_model::FolderId,
    messages: &mut [(u32, MessageMeta)],
) -> Result<BTreeSet<u32>, StoreError> {
    let unseen: Vec<u32> = messages
        .iter()
        .filter(|(_, m)| !m.flags.system.contains(SystemFlags::SEEN))
        .map(|(_, m)| m.uid)
        .collect();
    if unseen.is_empty() {
        return Ok(BTreeSet::new());
    }
    let update = session
        .server
        .mail
        .set_flags(
            folder,
            &UidSet::from_uids(unseen),
            FlagOp::Add,
            &Flags::system(SystemFlags::SEEN),
            None,
        )
        .await?;
    let mut changed = BTreeSet::new();
    for change in update.changed {
        if let Ok(at) = messages.binary_search_by_key(&change.uid, |(_, m)| m.uid) {
            let meta = &mut messages[at].1;
            meta.flags = change.flags;
            meta.modseq = change.modseq;
        }
        // This session reports the change itself; its store event must not be reported again.
        if let Some(selected) = &mut session.selected {
            selected.own_change(change.modseq);
        }
        changed.insert(change.uid);
    }
    Ok(changed)
}

/// The items a response carries beyond those asked.
///
/// - UID FETCH: UID always (RFC 9051 §6.4.9).
/// - `\Seen` set by this FETCH: FLAGS, since the flags changed (RFC 9051 §6.4.5); under
///   CONDSTORE also UID and MODSEQ (RFC 7162 §3.2.4: "a FETCH/UID FETCH that implicitly set
///   the \Seen flag").
/// - CHANGEDSINCE: MODSEQ (RFC 7162 §3.1.4.1: "implicitly adds the MODSEQ FETCH message data
///   item").
///
/// Other FETCH responses do not get MODSEQ just because CONDSTORE is on: RFC 7162 §3.2.4 says
/// the rule "doesn't affect untagged FETCH responses caused by a FETCH command that doesn't
/// include UID and/or a MODSEQ FETCH data item (and doesn't implicitly set the \Seen flag)".
fn options(request: &Request, condstore: bool, seen_now: bool) -> FetchOptions {
    FetchOptions {
        uid: request.uid || (seen_now && condstore),
        modseq: request.changed_since.is_some() || (seen_now && condstore),
        flags: seen_now,
    }
}

/// RFC 6855 §3: a client that enabled neither UTF8=ACCEPT nor IMAP4rev2 gets no UTF-8 in
/// ENVELOPE, BODY and BODYSTRUCTURE.
fn strings(session: &Session) -> Strings {
    if session.utf8_names() {
        Strings::Utf8
    } else {
        Strings::Ascii
    }
}

/// The tagged response for a message that could not be rendered.
fn fetch_failure(tag: &str, error: &FetchError) -> Status {
    match error {
        // RFC 3516 §4.3: BINARY of a part whose encoding the server cannot decode.
        FetchError::UnknownCte(_) => {
            Status::no(tag, "Cannot decode the part's content transfer encoding")
                .code("UNKNOWN-CTE")
        }
        FetchError::MissingIndex | FetchError::MissingContent => {
            tracing::error!(%error, "FETCH rendering failed");
            Status::no(tag, "Internal error; try again").code("SERVERBUG")
        }
    }
}

/// `* VANISHED (EARLIER) uids` (RFC 7162 §3.2.6, §3.2.10.1) for the UIDs of the set expunged
/// after `since`, before any FETCH response.
///
/// UIDs the session still knows (expunged by another session, not reported yet) are left
/// out: they are reported as `VANISHED` without EARLIER at the next point where expunges may
/// be, which also lowers the client's message count; VANISHED (EARLIER) would not.
async fn report_vanished(
    session: &Session,
    conn: &mut Connection,
    set: &SequenceSet,
    since: u64,
) -> Result<(), StoreError> {
    let Some(selected) = &session.selected else {
        return Ok(());
    };
    let expunged = session
        .server
        .mail
        .vanished_since(selected.folder, since)
        .await?;
    let vanished: Vec<u32> = expunged
        .into_iter()
        .filter(|&uid| in_uid_set(set, &session.saved_search, uid))
        .filter(|&uid| selected.seq(uid).is_none())
        .collect();
    if !vanished.is_empty() {
        let out = conn.output();
        out.extend_from_slice(b"* VANISHED (EARLIER) ");
        crate::proto::write::uid_set(out, &vanished);
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// Whether a UID set names `uid`, for UIDs that may no longer exist: `*` then covers every
/// UID above the other end (the client asking `300:*` wants all from 300), and `$` is the
/// saved result.
fn in_uid_set(set: &SequenceSet, saved: &[u32], uid: u32) -> bool {
    match set {
        SequenceSet::Saved => saved.contains(&uid),
        SequenceSet::Ranges(_) => set.contains(uid, u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use postwerk_model::FolderId;

    use super::*;
    use crate::proto::SeqNumber::{self, Largest, Value};

    fn selected(uids: &[u32]) -> Selected {
        Selected::new(
            FolderId(1),
            "INBOX".into(),
            false,
            crate::uids::UidList::from_sorted(uids.iter().copied()),
            10,
        )
    }

    fn set(ranges: &[(SeqNumber, SeqNumber)]) -> SequenceSet {
        SequenceSet::Ranges(ranges.to_vec())
    }

    #[test]
    fn sequence_numbers_beyond_exists_are_refused_uids_are_not() {
        let s = selected(&[3, 5, 9]);
        assert_eq!(
            resolve(&s, &[], &set(&[(Value(2), Largest)]), false),
            Ok(vec![(2, 5), (3, 9)])
        );
        assert!(resolve(&s, &[], &set(&[(Value(4), Value(4))]), false).is_err());
        assert!(
            resolve(
                &s,
                &[],
                &set(&[(Value(1), Value(2)), (Value(7), Largest)]),
                false
            )
            .is_err()
        );
        // A UID range that matches nothing is no error (RFC 9051 §6.4.9).
        assert_eq!(
            resolve(&s, &[], &set(&[(Value(10), Value(20))]), true),
            Ok(vec![])
        );
        assert_eq!(
            resolve(&s, &[], &set(&[(Value(4), Value(9))]), true),
            Ok(vec![(2, 5), (3, 9)])
        );
    }

    #[test]
    fn star_in_an_empty_folder_is_refused_for_sequence_numbers_only() {
        let empty = selected(&[]);
        assert!(resolve(&empty, &[], &set(&[(Value(1), Largest)]), false).is_err());
        assert_eq!(
            resolve(&empty, &[], &set(&[(Value(1), Largest)]), true),
            Ok(vec![])
        );
    }

    #[test]
    fn saved_result_is_uids_minus_the_expunged_in_either_command() {
        let s = selected(&[3, 5, 9]);
        // Saved in any order, with a UID expunged since (4) and a duplicate.
        let saved = [9, 4, 3, 9];
        let expected = Ok(vec![(1, 3), (3, 9)]);
        assert_eq!(resolve(&s, &saved, &SequenceSet::Saved, false), expected);
        assert_eq!(resolve(&s, &saved, &SequenceSet::Saved, true), expected);
        // An empty `$` is valid and names nothing (RFC 5182 §2.1).
        assert_eq!(resolve(&s, &[], &SequenceSet::Saved, false), Ok(vec![]));
    }

    #[test]
    fn align_pairs_store_rows_with_the_uids_asked() {
        let aligned = align([2, 4, 6, 8], vec![(1, 'x'), (4, 'a'), (6, 'b'), (7, 'y')]);
        assert_eq!(aligned, vec![None, Some('a'), Some('b'), None]);
        assert_eq!(align::<char>([], vec![(1, 'x')]), vec![]);
    }

    #[test]
    fn vanished_sets_cover_uids_above_the_last_message() {
        let all = set(&[(Value(300), Largest)]);
        assert!(in_uid_set(&all, &[], 4_000_000));
        assert!(!in_uid_set(&all, &[], 299));
        assert!(in_uid_set(&SequenceSet::Saved, &[5, 7], 7));
        assert!(!in_uid_set(&SequenceSet::Saved, &[5, 7], 6));
    }

    fn request(uid: bool, changed_since: Option<u64>) -> Request {
        Request {
            uid,
            set: SequenceSet::Saved,
            items: vec![FetchAttr::Flags],
            changed_since,
            vanished: false,
        }
    }

    #[test]
    fn modseq_goes_where_rfc_7162_asks_for_it() {
        let plain = |uid, cs, condstore, seen| {
            let o = options(&request(uid, cs), condstore, seen);
            (o.uid, o.flags, o.modseq)
        };
        // A plain FETCH under CONDSTORE is unchanged (§3.2.4).
        assert_eq!(plain(false, None, true, false), (false, false, false));
        // UID FETCH always has UID.
        assert_eq!(plain(true, None, false, false), (true, false, false));
        // CHANGEDSINCE adds MODSEQ (§3.1.4.1).
        assert_eq!(plain(false, Some(5), true, false), (false, false, true));
        // \Seen set by the FETCH: FLAGS; with CONDSTORE also UID and MODSEQ.
        assert_eq!(plain(false, None, false, true), (false, true, false));
        assert_eq!(plain(false, None, true, true), (true, true, true));
    }

    #[test]
    fn listed_metas_get_their_sequence_numbers() {
        let meta = |uid| MessageMeta {
            uid,
            modseq: 1,
            flags: Flags::none(),
            internal_date: 0,
            saved_at: 0,
            size: 1,
            blob: postwerk_store::BlobId::of(b"x"),
            subject: None,
            from: None,
            sent_date: None,
            has_attachments: false,
        };
        let paired = with_sequence_numbers(&[(2, 5), (3, 9), (4, 12)], vec![meta(5), meta(12)]);
        let seqs: Vec<(u32, u32)> = paired.iter().map(|(seq, m)| (*seq, m.uid)).collect();
        assert_eq!(seqs, vec![(2, 5), (4, 12)]);
    }
}
