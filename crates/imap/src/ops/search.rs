//! SEARCH and UID SEARCH (RFC 9051 §6.4.4, with ESEARCH of RFC 4731, SAVE and `$` of RFC 5182
//! and MODSEQ of RFC 7162 §3.1.5), SORT and THREAD (RFC 5256, ESORT of RFC 5267 §3).
//!
//! All three select messages the same way ([`find`]), then answer differently. Selection asks
//! the store as little as it can:
//!
//! ```text
//!  criteria ─► `$` replaced by the saved UIDs
//!      │
//!      ├─ only TEXT/BODY, ALL, UID and sequence sets (and ANDs of them): the fast path —
//!      │    search_text once per needle, intersected with the session's UIDs; no metas
//!      │    (`UID SEARCH TEXT x` over 10,000 messages costs one index query)
//!      │
//!      └─ anything else: one list_messages for the session's messages, message_indexes
//!           only if a key needs the index, contents only if a key needs the raw header,
//!           search_text once per needle, then `search::matches` per message
//!
//!  SEARCH ─► * SEARCH / * ESEARCH     SORT ─► sort::sort ─► * SORT / * ESEARCH
//!  THREAD ─► thread::thread ─► * THREAD
//! ```
//!
//! Messages are those the session knows: new messages not yet announced with EXISTS are not
//! searched, and messages another session expunged are left out when the store was read.
//! Unlike FETCH, a sequence number beyond the last message in a search key is not an error: it
//! matches nothing (clients send `SEARCH 1:*` to empty folders).

use chrono::Utc;
use postwerk_message::MessageIndex;
use postwerk_model::FolderId;
use postwerk_store::{MailStore, MessageMeta, StoreError, UidSet};

use crate::fetch::push_number;
use crate::ops::fetch::{align, enable_condstore};
use crate::ops::store_error;
use crate::proto::{
    SearchKey, SearchReturn, SeqNumber, SequenceSet, SortCriterion, ThreadAlgorithm,
};
use crate::response::Status;
use crate::search::{self, SearchContext, SearchMessage, TextHits, TextQuery, TextScope};
use crate::selected::Selected;
use crate::session::{Connection, Flow, Session};
use crate::sort::{self, SortItem};
use crate::thread;

/// SEARCH / UID SEARCH.
pub(crate) async fn search(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    uid: bool,
    criteria: SearchKey,
    returns: Option<Vec<SearchReturn>>,
) -> Flow {
    if session.selected.is_none() {
        return session.answer(conn, Status::bad(tag, "No folder selected"));
    }
    // RFC 9051 §6.4.4: an IMAP4rev2 client gets ESEARCH; no result option means ALL. An
    // IMAP4rev1 client without RETURN gets the SEARCH response of RFC 3501.
    let returns = match returns {
        None if session.enabled.rev2 => Some(Vec::new()),
        other => other,
    };
    let key = with_saved(criteria, &session.saved_search);
    let found = match find(session, &key, Load::default()).await {
        Ok(found) => found,
        Err(error) => return failed(session, conn, tag, returns.as_deref(), error),
    };
    if search::uses_modseq(&key) {
        // RFC 7162 §3.1: SEARCH with MODSEQ is a CONDSTORE enabling command.
        enable_condstore(session, conn);
    }
    let modseq = highest_modseq(&key, &found);
    let numbers: Vec<u32> = found
        .iter()
        .map(|f| if uid { f.uid } else { f.seq })
        .collect();
    match &returns {
        None => search::write_search(conn.output(), &numbers, modseq),
        Some(returns) => {
            if returns.contains(&SearchReturn::Save) {
                let uids: Vec<u32> = found.iter().map(|f| f.uid).collect();
                session.saved_search = saved_result(returns, &uids);
            }
            search::write_esearch(conn.output(), Some(tag), uid, returns, &numbers, modseq);
        }
    }
    completed(session, conn, tag, "SEARCH", uid).await
}

/// Ends SEARCH, SORT and THREAD: the changes others made that may be told now (no expunges
/// while answering them, RFC 9051 §7.5.1), then the tagged OK.
async fn completed(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    verb: &'static str,
    uid: bool,
) -> Flow {
    session.report_changes(conn, false).await;
    let text = if uid {
        format!("UID {verb} completed")
    } else {
        format!("{verb} completed")
    };
    session.answer(conn, Status::ok(tag, text))
}

/// SORT / UID SORT (RFC 5256 §3), with ESORT return options (RFC 5267 §3.1).
pub(crate) async fn sort(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    uid: bool,
    criteria: Vec<SortCriterion>,
    search: SearchKey,
    returns: Option<Vec<SearchReturn>>,
) -> Flow {
    if session.selected.is_none() {
        return session.answer(conn, Status::bad(tag, "No folder selected"));
    }
    let key = with_saved(search, &session.saved_search);
    let load = Load {
        metas: true,
        index: sort::needs_index(&criteria),
    };
    let found = match find(session, &key, load).await {
        Ok(found) => found,
        Err(error) => return failed(session, conn, tag, returns.as_deref(), error),
    };
    if search::uses_modseq(&key) {
        enable_condstore(session, conn);
    }
    let modseq = highest_modseq(&key, &found);
    let mut items = sort_items(&found, uid);
    sort::sort(&mut items, &criteria);
    let numbers: Vec<u32> = items.iter().map(|item| item.number).collect();
    match &returns {
        // RFC 7162 §3.1.9: MODSEQ is appended to SORT as to SEARCH.
        None => write_sort(conn.output(), &numbers, modseq),
        Some(returns) => {
            if returns.contains(&SearchReturn::Save) {
                let uids: Vec<u32> = items.iter().map(|item| item.meta.uid).collect();
                session.saved_search = saved_result(returns, &uids);
            }
            search::write_esearch(conn.output(), Some(tag), uid, returns, &numbers, modseq);
        }
    }
    completed(session, conn, tag, "SORT", uid).await
}

/// THREAD / UID THREAD (RFC 5256 §3).
pub(crate) async fn thread(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    uid: bool,
    algorithm: ThreadAlgorithm,
    search: SearchKey,
) -> Flow {
    if session.selected.is_none() {
        return session.answer(conn, Status::bad(tag, "No folder selected"));
    }
    let key = with_saved(search, &session.saved_search);
    let load = Load {
        metas: true,
        index: thread::needs_index(algorithm),
    };
    let found = match find(session, &key, load).await {
        Ok(found) => found,
        Err(error) => return session.answer(conn, store_error(tag, error)),
    };
    if search::uses_modseq(&key) {
        // RFC 7162 §3.1.9: THREAD responses are unchanged, but CONDSTORE is now on.
        enable_condstore(session, conn);
    }
    let items = sort_items(&found, uid);
    let threads = thread::thread(&items, algorithm);
    thread::write_thread(conn.output(), &threads);
    completed(session, conn, tag, "THREAD", uid).await
}

/// The answer to a search that failed in the store. RFC 9051 §6.4.4.1: a SEARCH (or SORT)
/// with SAVE that fails with `NO` empties the saved result; one without SAVE leaves it.
fn failed(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    returns: Option<&[SearchReturn]>,
    error: StoreError,
) -> Flow {
    if returns.is_some_and(|r| r.contains(&SearchReturn::Save)) {
        session.saved_search.clear();
    }
    session.answer(conn, store_error(tag, error))
}

/// A message the criteria matched.
struct Found {
    /// Its sequence number in the session.
    seq: u32,
    /// Its UID.
    uid: u32,
    /// Its meta, when read (always after the scan, or when [`Load::metas`] asked).
    meta: Option<MessageMeta>,
    /// Its index, when a key or [`Load::index`] needed it.
    index: Option<MessageIndex>,
}

/// What the caller needs of the matches beyond their numbers.
#[derive(Debug, Default, Clone, Copy)]
struct Load {
    /// The metas (SORT and THREAD keys).
    metas: bool,
    /// The indexes (address sort keys, REFERENCES threading).
    index: bool,
}

/// The messages of the session matching `key` (with `$` already replaced), ascending.
async fn find(session: &Session, key: &SearchKey, load: Load) -> Result<Vec<Found>, StoreError> {
    let Some(selected) = &session.selected else {
        return Ok(Vec::new());
    };
    let mut found = if is_text_only(key) {
        fast_path(session, selected, key).await?
    } else {
        scan(session, selected, key).await?
    };
    let mail = &session.server.mail;
    if load.metas && found.iter().any(|f| f.meta.is_none()) {
        let uids = UidSet::from_uids(found.iter().map(|f| f.uid));
        let metas = mail.list_messages(selected.folder, &uids).await?;
        let metas = align(found.iter().map(|f| f.uid), pairs(metas, |m| m.uid));
        for (f, meta) in found.iter_mut().zip(metas) {
            f.meta = meta;
        }
        // Not listed: expunged by another session since; left out.
        found.retain(|f| f.meta.is_some());
    }
    if load.index && found.iter().any(|f| f.index.is_none()) {
        let uids = UidSet::from_uids(found.iter().map(|f| f.uid));
        let indexes = mail.message_indexes(selected.folder, &uids).await?;
        let indexes = align(found.iter().map(|f| f.uid), indexes);
        for (f, index) in found.iter_mut().zip(indexes) {
            f.index = f.index.take().or(index);
        }
    }
    Ok(found)
}

/// Keys the full-text index and the session's own UIDs answer without reading any message.
fn is_text_only(key: &SearchKey) -> bool {
    match key {
        SearchKey::And(keys) => keys.iter().all(is_text_only),
        SearchKey::All | SearchKey::Body(_) | SearchKey::Text(_) => true,
        SearchKey::Uid(SequenceSet::Ranges(_)) | SearchKey::Sequence(SequenceSet::Ranges(_)) => {
            true
        }
        _ => false,
    }
}

/// The fast path: each needle asked of the full-text index once, the answers intersected
/// with the session's UIDs.
async fn fast_path(
    session: &Session,
    selected: &Selected,
    key: &SearchKey,
) -> Result<Vec<Found>, StoreError> {
    let hits = text_hits(
        &*session.server.mail,
        selected.folder,
        search::needs(key).texts,
    )
    .await?;
    let place = Place {
        last_seq: selected.exists(),
        last_uid: selected.last_uid(),
    };
    let found = (1u32..)
        .zip(selected.uids().iter())
        .filter(|&(seq, uid)| text_matches(key, seq, uid, place, &hits))
        .map(|(seq, uid)| Found {
            seq,
            uid,
            meta: None,
            index: None,
        })
        .collect();
    Ok(found)
}

/// Each full-text query asked of the store once: TEXT of `search_text`, BODY of `search_body`
/// (which leaves the message's own header fields out, RFC 9051 §6.4.4).
async fn text_hits(
    mail: &dyn MailStore,
    folder: FolderId,
    queries: Vec<TextQuery>,
) -> Result<TextHits, StoreError> {
    let mut hits = TextHits::new();
    for query in queries {
        let uids = match query.scope {
            TextScope::Anywhere => mail.search_text(folder, &query.needle).await?,
            TextScope::Body => mail.search_body(folder, &query.needle).await?,
        };
        hits.insert(query.scope, query.needle, uids);
    }
    Ok(hits)
}

/// What `*` means in the sets of a search: the last message and its UID.
#[derive(Debug, Clone, Copy)]
struct Place {
    last_seq: u32,
    last_uid: u32,
}

/// [`search::matches`] for the keys of [`is_text_only`], without a meta.
fn text_matches(key: &SearchKey, seq: u32, uid: u32, place: Place, hits: &TextHits) -> bool {
    match key {
        SearchKey::And(keys) => keys.iter().all(|k| text_matches(k, seq, uid, place, hits)),
        SearchKey::All => true,
        SearchKey::Text(needle) => {
            needle.is_empty() || hits.contains(TextScope::Anywhere, needle, uid)
        }
        SearchKey::Body(needle) => needle.is_empty() || hits.contains(TextScope::Body, needle, uid),
        SearchKey::Uid(set) => set.contains(uid, place.last_uid),
        SearchKey::Sequence(set) => set.contains(seq, place.last_seq),
        _ => false,
    }
}

/// The general path: the session's messages read in one query (their UIDs span one range,
/// since new messages have higher UIDs), then each tested.
async fn scan(
    session: &Session,
    selected: &Selected,
    key: &SearchKey,
) -> Result<Vec<Found>, StoreError> {
    let (Some(first), Some(last)) = (selected.uids().first(), selected.uids().last()) else {
        return Ok(Vec::new());
    };
    let mail = &session.server.mail;
    let folder = selected.folder;
    let range = UidSet::from_ranges([(first, last)]);
    let metas = mail.list_messages(folder, &range).await?;
    let needs = search::needs(key);
    let mut indexes = if needs.index {
        let listed = mail.message_indexes(folder, &range).await?;
        align(metas.iter().map(|m| m.uid), listed)
    } else {
        Vec::new()
    };
    let hits = text_hits(&**mail, folder, needs.texts.clone()).await?;
    let ctx = SearchContext {
        last_seq: selected.exists(),
        last_uid: selected.last_uid(),
        now: Utc::now().timestamp(),
        text_hits: &hits,
    };
    let mut found = Vec::new();
    for (at, meta) in metas.into_iter().enumerate() {
        // Between the session's first and last UID every listed message is one it knows.
        let Some(seq) = selected.seq(meta.uid) else {
            continue;
        };
        let content = if needs.content {
            match mail.read_message(folder, meta.uid).await {
                Ok(content) => Some(content),
                Err(StoreError::NotFound(_)) => continue,
                Err(error) => return Err(error),
            }
        } else {
            None
        };
        let index = indexes.get_mut(at).and_then(Option::take);
        let message = SearchMessage {
            seq,
            meta: &meta,
            index: index.as_ref(),
            content: content.as_deref(),
        };
        if search::matches(key, &message, &ctx) {
            found.push(Found {
                seq,
                uid: meta.uid,
                meta: Some(meta),
                index,
            });
        }
    }
    Ok(found)
}

/// `$` in the criteria (bare or after UID) replaced by the saved UIDs (RFC 5182 §2.1: the
/// saved result names the same messages in a SEARCH and a UID SEARCH).
fn with_saved(key: SearchKey, saved: &[u32]) -> SearchKey {
    match key {
        SearchKey::Sequence(SequenceSet::Saved) | SearchKey::Uid(SequenceSet::Saved) => {
            SearchKey::Uid(uid_ranges(saved))
        }
        SearchKey::And(keys) => {
            SearchKey::And(keys.into_iter().map(|k| with_saved(k, saved)).collect())
        }
        SearchKey::Not(inner) => SearchKey::Not(Box::new(with_saved(*inner, saved))),
        SearchKey::Or(a, b) => SearchKey::Or(
            Box::new(with_saved(*a, saved)),
            Box::new(with_saved(*b, saved)),
        ),
        other => other,
    }
}

/// UIDs as a sequence set of runs; empty UIDs give an empty set, which matches nothing.
fn uid_ranges(uids: &[u32]) -> SequenceSet {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut ranges: Vec<(SeqNumber, SeqNumber)> = Vec::new();
    for uid in sorted {
        match ranges.last_mut() {
            Some((_, SeqNumber::Value(end))) if end.checked_add(1) == Some(uid) => *end = uid,
            _ => ranges.push((SeqNumber::Value(uid), SeqNumber::Value(uid))),
        }
    }
    SequenceSet::Ranges(ranges)
}

/// What SAVE keeps (RFC 9051 §6.4.4.1 Table 4, RFC 5182 §2.4), as ascending UIDs: with MIN
/// and/or MAX but neither ALL nor COUNT, only those messages; otherwise every match. `uids`
/// are the matches in the order of the result (mailbox order for SEARCH, sort order for SORT,
/// where MIN and MAX are the first and last, RFC 5267 §3.1).
fn saved_result(returns: &[SearchReturn], uids: &[u32]) -> Vec<u32> {
    use SearchReturn::{All, Count, Max, Min};
    let min = returns.contains(&Min);
    let max = returns.contains(&Max);
    let every = returns.contains(&All) || returns.contains(&Count) || !(min || max);
    let mut saved: Vec<u32> = if every {
        uids.to_vec()
    } else {
        let first = uids.first().filter(|_| min);
        let last = uids.last().filter(|_| max);
        first.into_iter().chain(last).copied().collect()
    };
    saved.sort_unstable();
    saved.dedup();
    saved
}

/// RFC 7162 §3.1.5: with a MODSEQ key, the highest MODSEQ of the matches (the responses leave
/// it out when nothing matched).
fn highest_modseq(key: &SearchKey, found: &[Found]) -> Option<u64> {
    if !search::uses_modseq(key) {
        return None;
    }
    found
        .iter()
        .filter_map(|f| f.meta.as_ref().map(|m| m.modseq))
        .max()
}

/// The matches as SORT and THREAD take them, numbered by UID or sequence number.
fn sort_items(found: &[Found], uid: bool) -> Vec<SortItem<'_>> {
    found
        .iter()
        .filter_map(|f| {
            Some(SortItem {
                number: if uid { f.uid } else { f.seq },
                meta: f.meta.as_ref()?,
                index: f.index.as_ref(),
            })
        })
        .collect()
}

/// `(uid, item)` pairs for [`align`].
fn pairs<T>(items: Vec<T>, uid: impl Fn(&T) -> u32) -> Vec<(u32, T)> {
    items.into_iter().map(|item| (uid(&item), item)).collect()
}

/// `* SORT 2 3 1` (RFC 5256 §4), with ` (MODSEQ n)` when given and something matched
/// (RFC 7162 §3.1.9).
fn write_sort(out: &mut Vec<u8>, numbers: &[u32], modseq: Option<u64>) {
    out.extend_from_slice(b"* SORT");
    for &n in numbers {
        out.push(b' ');
        push_number(out, u64::from(n));
    }
    if let (Some(modseq), false) = (modseq, numbers.is_empty()) {
        out.extend_from_slice(b" (MODSEQ ");
        push_number(out, modseq);
        out.push(b')');
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::SeqNumber::{Largest, Value};

    fn s(text: &str) -> String {
        text.to_string()
    }

    #[test]
    fn saved_marker_becomes_the_saved_uids_everywhere() {
        let key = SearchKey::And(vec![
            SearchKey::Sequence(SequenceSet::Saved),
            SearchKey::Or(
                Box::new(SearchKey::Uid(SequenceSet::Saved)),
                Box::new(SearchKey::Not(Box::new(SearchKey::Sequence(
                    SequenceSet::Saved,
                )))),
            ),
            SearchKey::Seen,
        ]);
        let saved = uid_ranges(&[9, 3, 4, 5, 9]);
        assert_eq!(
            saved,
            SequenceSet::Ranges(vec![(Value(3), Value(5)), (Value(9), Value(9))])
        );
        let expected = SearchKey::And(vec![
            SearchKey::Uid(saved.clone()),
            SearchKey::Or(
                Box::new(SearchKey::Uid(saved.clone())),
                Box::new(SearchKey::Not(Box::new(SearchKey::Uid(saved.clone())))),
            ),
            SearchKey::Seen,
        ]);
        assert_eq!(with_saved(key, &[9, 3, 4, 5, 9]), expected);
        // An empty saved result matches nothing.
        let empty = with_saved(SearchKey::Sequence(SequenceSet::Saved), &[]);
        assert_eq!(empty, SearchKey::Uid(SequenceSet::Ranges(vec![])));
        assert!(!text_matches(
            &empty,
            1,
            1,
            Place {
                last_seq: 1,
                last_uid: 1
            },
            &TextHits::new()
        ));
    }

    #[test]
    fn only_text_and_set_keys_take_the_fast_path() {
        use SearchKey as K;
        let fast = [
            K::Text(s("x")),
            K::And(vec![K::All, K::Body(s("a")), K::Text(s("b"))]),
            K::And(vec![
                K::Uid(SequenceSet::Ranges(vec![(Value(1), Largest)])),
                K::Text(s("x")),
            ]),
            K::Sequence(SequenceSet::Ranges(vec![(Value(1), Value(3))])),
        ];
        for key in fast {
            assert!(is_text_only(&key), "{key:?}");
        }
        let slow = [
            K::Not(Box::new(K::Text(s("x")))),
            K::Or(Box::new(K::Text(s("x"))), Box::new(K::Text(s("y")))),
            K::And(vec![K::Text(s("x")), K::Seen]),
            K::From(s("x")),
            K::ModSeq(5),
            // `$` is replaced before the path is chosen; left in place it is not text-only.
            K::Uid(SequenceSet::Saved),
        ];
        for key in slow {
            assert!(!is_text_only(&key), "{key:?}");
        }
    }

    #[test]
    fn fast_path_intersects_needles_and_sets() {
        use SearchKey as K;
        let mut hits = TextHits::new();
        hits.insert(TextScope::Anywhere, "alpha", vec![9, 3, 12]);
        hits.insert(TextScope::Body, "beta", vec![3, 5]);
        let place = Place {
            last_seq: 4,
            last_uid: 12,
        };
        // The session knows UIDs 3, 5, 9 and 12 as messages 1 to 4.
        let session = [(1, 3), (2, 5), (3, 9), (4, 12)];
        let run = |key: &SearchKey| -> Vec<u32> {
            session
                .iter()
                .filter(|&&(seq, uid)| text_matches(key, seq, uid, place, &hits))
                .map(|&(_, uid)| uid)
                .collect()
        };
        assert_eq!(run(&K::Text(s("alpha"))), vec![3, 9, 12]);
        assert_eq!(
            run(&K::And(vec![K::Text(s("alpha")), K::Body(s("beta"))])),
            vec![3]
        );
        assert_eq!(run(&K::Text(s(""))), vec![3, 5, 9, 12]);
        assert_eq!(run(&K::Text(s("never asked"))), Vec::<u32>::new());
        // BODY and TEXT answers are kept apart: "beta" was asked as BODY only.
        assert_eq!(run(&K::Text(s("beta"))), Vec::<u32>::new());
        let last = K::Uid(SequenceSet::Ranges(vec![(Largest, Largest)]));
        assert_eq!(run(&K::And(vec![K::Text(s("alpha")), last])), vec![12]);
        let first_two = K::Sequence(SequenceSet::Ranges(vec![(Value(1), Value(2))]));
        assert_eq!(
            run(&K::And(vec![first_two, K::Body(s("beta"))])),
            vec![3, 5]
        );
    }

    #[test]
    fn save_keeps_what_rfc_5182_table_says() {
        use SearchReturn::{All, Count, Max, Min, Save};
        let uids = [7, 2, 9, 4];
        assert_eq!(saved_result(&[Save], &uids), vec![2, 4, 7, 9]);
        assert_eq!(saved_result(&[Save, Min], &uids), vec![7]);
        assert_eq!(saved_result(&[Max, Save], &uids), vec![4]);
        assert_eq!(saved_result(&[Save, Min, Max], &uids), vec![4, 7]);
        assert_eq!(saved_result(&[Save, Min, Count], &uids), vec![2, 4, 7, 9]);
        assert_eq!(saved_result(&[All, Save, Max], &uids), vec![2, 4, 7, 9]);
        assert_eq!(saved_result(&[Save, Min, Max], &[]), Vec::<u32>::new());
        assert_eq!(saved_result(&[Save, Min, Max], &[5]), vec![5]);
    }

    fn esort(returns: &[SearchReturn], numbers: &[u32], modseq: Option<u64>) -> String {
        let mut out = Vec::new();
        search::write_esearch(&mut out, Some("E01"), true, returns, numbers, modseq);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn esort_keeps_the_sort_order() {
        use SearchReturn::{All, Count, Max, Min, Save};
        // RFC 5267 §3.3: descending runs are not ranges.
        assert_eq!(
            esort(&[], &[23765, 23764, 23763, 23761], None),
            "* ESEARCH (TAG \"E01\") UID ALL 23765,23764,23763,23761\r\n"
        );
        assert_eq!(
            esort(&[Min, Max, Count], &[5, 3, 4, 1], Some(90)),
            "* ESEARCH (TAG \"E01\") UID MIN 5 MAX 1 COUNT 4 MODSEQ 90\r\n"
        );
        assert_eq!(
            esort(&[All], &[1, 2, 3, 7], None),
            "* ESEARCH (TAG \"E01\") UID ALL 1:3,7\r\n"
        );
        assert_eq!(
            esort(&[Min, All], &[], Some(9)),
            "* ESEARCH (TAG \"E01\") UID\r\n"
        );
        assert_eq!(esort(&[Save], &[1, 2], None), "");
    }

    #[test]
    fn sort_responses() {
        let sort = |numbers: &[u32], modseq| {
            let mut out = Vec::new();
            write_sort(&mut out, numbers, modseq);
            String::from_utf8(out).expect("ascii")
        };
        assert_eq!(sort(&[2, 3, 1], None), "* SORT 2 3 1\r\n");
        assert_eq!(sort(&[2, 3, 1], Some(7)), "* SORT 2 3 1 (MODSEQ 7)\r\n");
        assert_eq!(sort(&[], Some(7)), "* SORT\r\n");
    }
}
