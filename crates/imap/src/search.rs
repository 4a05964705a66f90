//! SEARCH (RFC 9051 §6.4.4) evaluated over one message, and the SEARCH and ESEARCH responses
//! (RFC 9051 §7.3.4, RFC 4731, MODSEQ of RFC 7162 §3.1.5).
//!
//! Pure: the session asks [`needs`] what to load, answers the full-text needles with the
//! store's index (`MailStore::search_text` for TEXT, `MailStore::search_body` for BODY, once per
//! needle and key) into [`TextHits`], then calls
//! [`matches`] for every message of the selection and writes the result with [`write_search`]
//! or [`write_esearch`].
//!
//! ```text
//!  criteria ──► needs() ──► metas (+ indexes) (+ contents) + TextHits (one query per needle)
//!                                 │
//!  for each message ──► matches(key, SearchMessage, SearchContext) ──► numbers
//!                                                                         │
//!                                    write_search / write_esearch ◄───────┘
//! ```
//!
//! String keys are case-insensitive substring matches on decoded values (RFC 9051 §6.4.4).
//! Dates: BEFORE/ON/SINCE use the date of INTERNALDATE in UTC (the zone FETCH INTERNALDATE shows,
//! see [`crate::fetch`]); SENT* use the date of the Date header as written, in its own zone
//! (RFC 9051: "disregarding time and timezone"); SAVED* use the SAVEDATE in UTC.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate};
use postwerk_message::{Addr, MessageIndex};
use postwerk_store::{MessageMeta, SystemFlags};

use crate::fetch::{HeaderFields, header_end, push_number};
use crate::proto::{SearchKey, SearchReturn};

/// What the session must load, beyond the metas, to evaluate a search key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchNeeds {
    /// The messages' indexes: FROM, TO, CC, BCC, SENT*, and HEADER of a field the index's
    /// summary holds.
    pub index: bool,
    /// The raw messages: HEADER of any other field (the header is scanned).
    pub content: bool,
    /// The needles of BODY and TEXT keys, each once per key, in order of appearance: the
    /// session asks the full-text index for each and fills [`TextHits`]. Empty needles are left
    /// out (they match every message).
    pub texts: Vec<TextQuery>,
}

/// What evaluating `key` takes. Flags, sizes, dates, UIDs, sequence numbers, MODSEQ and SUBJECT
/// come from the [`MessageMeta`] alone.
pub fn needs(key: &SearchKey) -> SearchNeeds {
    let mut needs = SearchNeeds::default();
    collect_needs(key, &mut needs);
    needs
}

fn collect_needs(key: &SearchKey, needs: &mut SearchNeeds) {
    match key {
        SearchKey::And(keys) => keys.iter().for_each(|k| collect_needs(k, needs)),
        SearchKey::Not(inner) => collect_needs(inner, needs),
        SearchKey::Or(a, b) => {
            collect_needs(a, needs);
            collect_needs(b, needs);
        }
        SearchKey::From(_)
        | SearchKey::To(_)
        | SearchKey::Cc(_)
        | SearchKey::Bcc(_)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_) => needs.index = true,
        SearchKey::Header(field, _) => match summary_field(field) {
            Some(SummaryField::Subject) => {}
            Some(_) => needs.index = true,
            None => needs.content = true,
        },
        SearchKey::Body(needle) | SearchKey::Text(needle) if !needle.is_empty() => {
            let scope = match key {
                SearchKey::Body(_) => TextScope::Body,
                _ => TextScope::Anywhere,
            };
            let query = TextQuery {
                scope,
                needle: needle.clone(),
            };
            if !needs.texts.contains(&query) {
                needs.texts.push(query);
            }
        }
        _ => {}
    }
}

/// Whether `key` contains a MODSEQ criterion, so the response carries the highest MODSEQ of
/// the matches (RFC 7162 §3.1.5).
pub fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::ModSeq(_) => true,
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        SearchKey::Not(inner) => uses_modseq(inner),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        _ => false,
    }
}

/// Where a full-text key looks (RFC 9051 §6.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextScope {
    /// TEXT: the header or the body (`MailStore::search_text`).
    Anywhere,
    /// BODY: the body only, never the message's own header fields (`MailStore::search_body`).
    Body,
}

/// One question for the full-text index: a needle and where to look for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextQuery {
    /// Header and body, or body only.
    pub scope: TextScope,
    /// The string searched for, case-insensitively.
    pub needle: String,
}

/// The answers of the full-text index: for each query of [`SearchNeeds::texts`], the UIDs
/// whose text contains its needle.
#[derive(Debug, Clone, Default)]
pub struct TextHits {
    anywhere: HashMap<String, Vec<u32>>,
    body: HashMap<String, Vec<u32>>,
}

impl TextHits {
    /// No answers yet.
    pub fn new() -> Self {
        TextHits::default()
    }

    /// Records the UIDs (in any order) whose text in `scope` contains `needle`.
    pub fn insert(&mut self, scope: TextScope, needle: impl Into<String>, mut uids: Vec<u32>) {
        uids.sort_unstable();
        uids.dedup();
        self.of_scope_mut(scope).insert(needle.into(), uids);
    }

    /// Whether the text in `scope` of the message `uid` contains `needle`. A needle never
    /// recorded for that scope matches nothing.
    pub fn contains(&self, scope: TextScope, needle: &str, uid: u32) -> bool {
        let answers = match scope {
            TextScope::Anywhere => &self.anywhere,
            TextScope::Body => &self.body,
        };
        answers
            .get(needle)
            .is_some_and(|uids| uids.binary_search(&uid).is_ok())
    }

    fn of_scope_mut(&mut self, scope: TextScope) -> &mut HashMap<String, Vec<u32>> {
        match scope {
            TextScope::Anywhere => &mut self.anywhere,
            TextScope::Body => &mut self.body,
        }
    }
}

/// One message as SEARCH sees it.
#[derive(Debug, Clone, Copy)]
pub struct SearchMessage<'a> {
    /// Its message sequence number in the session.
    pub seq: u32,
    /// The message as listed.
    pub meta: &'a MessageMeta,
    /// Its index, when [`SearchNeeds::index`] asked for it; keys that need it do not match
    /// without it (FROM and SUBJECT fall back to the meta).
    pub index: Option<&'a MessageIndex>,
    /// Its raw bytes, when [`SearchNeeds::content`] asked for them; HEADER of other fields does
    /// not match without them.
    pub content: Option<&'a [u8]>,
}

/// What is the same for every message of one search.
#[derive(Debug, Clone, Copy)]
pub struct SearchContext<'a> {
    /// The number of messages: `*` in a sequence set.
    pub last_seq: u32,
    /// The UID of the last message: `*` in a UID set (RFC 9051 §6.4.4: "the largest number in
    /// use").
    pub last_uid: u32,
    /// Now, in Unix seconds, for OLDER and YOUNGER (RFC 5032).
    pub now: i64,
    /// The full-text answers for BODY and TEXT.
    pub text_hits: &'a TextHits,
}

/// Whether `msg` matches `key` (RFC 9051 §6.4.4).
///
/// A `$` sequence set ([`crate::proto::SequenceSet::Saved`]) must have been replaced by the
/// session with the saved result; left in place it matches nothing.
pub fn matches(key: &SearchKey, msg: &SearchMessage<'_>, ctx: &SearchContext<'_>) -> bool {
    let meta = msg.meta;
    let system = meta.flags.system;
    let summary = msg.index.map(|i| &i.summary);
    match key {
        SearchKey::And(keys) => keys.iter().all(|k| matches(k, msg, ctx)),
        SearchKey::Or(a, b) => matches(a, msg, ctx) || matches(b, msg, ctx),
        SearchKey::Not(inner) => !matches(inner, msg, ctx),
        SearchKey::All | SearchKey::SaveDateSupported => true,
        // IMAP4rev1 \Recent is never set here (see `SystemFlags`): NEW (RECENT UNSEEN) and
        // RECENT match nothing and OLD (NOT RECENT) matches everything.
        SearchKey::New | SearchKey::Recent => false,
        SearchKey::Old => true,

        SearchKey::Answered => system.contains(SystemFlags::ANSWERED),
        SearchKey::Deleted => system.contains(SystemFlags::DELETED),
        SearchKey::Draft => system.contains(SystemFlags::DRAFT),
        SearchKey::Flagged => system.contains(SystemFlags::FLAGGED),
        SearchKey::Seen => system.contains(SystemFlags::SEEN),
        SearchKey::Unanswered => !system.contains(SystemFlags::ANSWERED),
        SearchKey::Undeleted => !system.contains(SystemFlags::DELETED),
        SearchKey::Undraft => !system.contains(SystemFlags::DRAFT),
        SearchKey::Unflagged => !system.contains(SystemFlags::FLAGGED),
        SearchKey::Unseen => !system.contains(SystemFlags::SEEN),
        // RFC 9051 §2.3.2: flag names are case-insensitive.
        SearchKey::Keyword(name) => has_keyword(meta, name),
        SearchKey::Unkeyword(name) => !has_keyword(meta, name),

        SearchKey::Larger(n) => meta.size > *n,
        SearchKey::Smaller(n) => meta.size < *n,
        SearchKey::Sequence(set) => set.contains(msg.seq, ctx.last_seq),
        SearchKey::Uid(set) => set.contains(meta.uid, ctx.last_uid),
        // RFC 7162 §3.1.5: messages whose mod-sequence is equal to or greater than n.
        SearchKey::ModSeq(n) => meta.modseq >= *n,

        SearchKey::Before(date) => utc_date(meta.internal_date) < *date,
        SearchKey::On(date) => utc_date(meta.internal_date) == *date,
        SearchKey::Since(date) => utc_date(meta.internal_date) >= *date,
        SearchKey::SavedBefore(date) => utc_date(meta.saved_at) < *date,
        SearchKey::SavedOn(date) => utc_date(meta.saved_at) == *date,
        SearchKey::SavedSince(date) => utc_date(meta.saved_at) >= *date,
        SearchKey::SentBefore(date) => sent_date(msg).is_some_and(|d| d < *date),
        SearchKey::SentOn(date) => sent_date(msg).is_some_and(|d| d == *date),
        SearchKey::SentSince(date) => sent_date(msg).is_some_and(|d| d >= *date),
        // RFC 5032 §3: OLDER is "older than" the interval, YOUNGER "within" it, so exactly one
        // of the two holds for any message.
        SearchKey::Older(seconds) => age(meta, ctx) > i128::from(*seconds),
        SearchKey::Younger(seconds) => age(meta, ctx) <= i128::from(*seconds),

        SearchKey::Subject(needle) => subject(msg).is_some_and(|s| contains_ci(s, needle)),
        SearchKey::From(needle) => match summary {
            Some(s) => addresses_match(&s.from, needle),
            None => meta.from.as_deref().is_some_and(|f| contains_ci(f, needle)),
        },
        SearchKey::To(needle) => summary.is_some_and(|s| addresses_match(&s.to, needle)),
        SearchKey::Cc(needle) => summary.is_some_and(|s| addresses_match(&s.cc, needle)),
        SearchKey::Bcc(needle) => summary.is_some_and(|s| addresses_match(&s.bcc, needle)),
        SearchKey::Header(field, needle) => header_matches(msg, field, needle),
        SearchKey::Text(needle) => {
            needle.is_empty()
                || ctx
                    .text_hits
                    .contains(TextScope::Anywhere, needle, meta.uid)
        }
        SearchKey::Body(needle) => {
            needle.is_empty() || ctx.text_hits.contains(TextScope::Body, needle, meta.uid)
        }
    }
}

fn has_keyword(meta: &MessageMeta, name: &str) -> bool {
    meta.flags
        .keywords
        .iter()
        .any(|k| k.as_str().eq_ignore_ascii_case(name))
}

/// The date (in UTC) of an instant in Unix seconds.
fn utc_date(seconds: i64) -> NaiveDate {
    DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .date_naive()
}

/// How long ago the message arrived, in seconds (wide enough for any pair of `i64`s).
fn age(meta: &MessageMeta, ctx: &SearchContext<'_>) -> i128 {
    i128::from(ctx.now) - i128::from(meta.internal_date)
}

/// The date of the Date header as written, in the sender's zone (RFC 9051 §6.4.4 SENTBEFORE:
/// "disregarding time and timezone"). When the raw value is not RFC 5322 syntax that chrono
/// reads, the parsed date of the summary or meta is used, in UTC. `None` without a Date header.
fn sent_date(msg: &SearchMessage<'_>) -> Option<NaiveDate> {
    let written = msg
        .index
        .and_then(|i| i.envelope.date.as_deref())
        .and_then(|raw| DateTime::parse_from_rfc2822(raw.trim()).ok())
        .map(|d| d.date_naive());
    written.or_else(|| {
        msg.index
            .and_then(|i| i.summary.date)
            .or(msg.meta.sent_date)
            .map(utc_date)
    })
}

/// The decoded subject: the meta's, else the index's.
fn subject<'a>(msg: &SearchMessage<'a>) -> Option<&'a str> {
    msg.meta
        .subject
        .as_deref()
        .or_else(|| msg.index.and_then(|i| i.summary.subject.as_deref()))
}

/// Whether any address has `needle` in its display name or in `mailbox@host`.
fn addresses_match(addrs: &[Addr], needle: &str) -> bool {
    addrs.iter().any(|a| {
        a.name.as_deref().is_some_and(|n| contains_ci(n, needle))
            || a.address().is_some_and(|addr| contains_ci(&addr, needle))
    })
}

/// The header fields whose decoded value the index's summary holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SummaryField {
    Subject,
    From,
    To,
    Cc,
    Bcc,
    ReplyTo,
    MessageId,
    InReplyTo,
    References,
}

fn summary_field(name: &str) -> Option<SummaryField> {
    const FIELDS: [(&str, SummaryField); 9] = [
        ("subject", SummaryField::Subject),
        ("from", SummaryField::From),
        ("to", SummaryField::To),
        ("cc", SummaryField::Cc),
        ("bcc", SummaryField::Bcc),
        ("reply-to", SummaryField::ReplyTo),
        ("message-id", SummaryField::MessageId),
        ("in-reply-to", SummaryField::InReplyTo),
        ("references", SummaryField::References),
    ];
    FIELDS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, field)| field)
}

/// HEADER field-name string (RFC 9051 §6.4.4): the field's value contains the string; with an
/// empty string, the message has the field at all.
///
/// Fields of the summary are matched on their decoded values (message ids in angle brackets,
/// as written, so that a client's `HEADER Message-ID <id@host>` finds them); any other field is
/// looked up in the raw header, unfolded but not RFC 2047-decoded.
fn header_matches(msg: &SearchMessage<'_>, field: &str, needle: &str) -> bool {
    let Some(which) = summary_field(field) else {
        return msg
            .content
            .is_some_and(|raw| raw_header_matches(raw, field, needle));
    };
    if which == SummaryField::Subject {
        return subject(msg).is_some_and(|s| contains_ci(s, needle));
    }
    let Some(summary) = msg.index.map(|i| &i.summary) else {
        return false;
    };
    let bracketed = |id: &str| contains_ci(&format!("<{id}>"), needle);
    match which {
        SummaryField::From => addresses_match(&summary.from, needle),
        SummaryField::To => addresses_match(&summary.to, needle),
        SummaryField::Cc => addresses_match(&summary.cc, needle),
        SummaryField::Bcc => addresses_match(&summary.bcc, needle),
        SummaryField::ReplyTo => addresses_match(&summary.reply_to, needle),
        SummaryField::MessageId => summary.message_id.as_deref().is_some_and(bracketed),
        SummaryField::InReplyTo => summary.in_reply_to.as_deref().is_some_and(bracketed),
        SummaryField::References => {
            let joined: Vec<String> = summary
                .references
                .iter()
                .map(|r| format!("<{r}>"))
                .collect();
            !joined.is_empty() && contains_ci(&joined.join(" "), needle)
        }
        SummaryField::Subject => false,
    }
}

/// Whether a field called `field` in the raw header of `raw` has `needle` in its unfolded value.
fn raw_header_matches(raw: &[u8], field: &str, needle: &str) -> bool {
    HeaderFields::new(&raw[..header_end(raw)])
        .filter(|f| f.name.eq_ignore_ascii_case(field.as_bytes()))
        .any(|f| {
            // RFC 5322 §2.2.3: unfolding removes the line breaks before continuation lines.
            let unfolded: Vec<u8> = f
                .value
                .iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect();
            contains_ci(String::from_utf8_lossy(&unfolded).trim(), needle)
        })
}

/// Case-insensitive substring test. ASCII text (the common case) is compared in place; other
/// text is lower-cased first (Unicode simple case folding, close to RFC 5051 i;unicode-casemap).
fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if haystack.is_ascii() && needle.is_ascii() {
        let (hay, pin) = (haystack.as_bytes(), needle.as_bytes());
        return hay.windows(pin.len()).any(|w| w.eq_ignore_ascii_case(pin));
    }
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// Writes the untagged `SEARCH` response (RFC 9051 §7.3.4, IMAP4rev1 clients): `* SEARCH 2 5
/// 7\r\n`, with ` (MODSEQ n)` appended when `modseq` is given and something matched (RFC 7162
/// §3.1.5: the highest mod-sequence of the messages returned).
pub fn write_search(out: &mut Vec<u8>, numbers: &[u32], modseq: Option<u64>) {
    out.extend_from_slice(b"* SEARCH");
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

/// Writes the `ESEARCH` response (RFC 4731 §3.1, RFC 9051 §7.3.4) for the `numbers` that
/// matched: `* ESEARCH (TAG "a1") UID MIN 2 MAX 7 COUNT 3 ALL 2,5:7\r\n`.
///
/// MIN and MAX are the first and last of `numbers`: for SEARCH they ascend; for an extended
/// SORT (RFC 5267 §3.1) they are in sort order, and ALL lists them in that order with ranges
/// only where numbers ascend by one (§3.2: `23765,23764`, never `23765:23764`).
///
/// `returns` as sent; empty means ALL (RFC 4731 §3.1: `RETURN ()`). MIN, MAX and ALL are left out
/// when nothing matched, COUNT is always given when asked. With SAVE as the only option nothing is
/// written (RFC 5182 §2.4: the result is only saved). `modseq`, the highest mod-sequence of the
/// matches, is appended as `MODSEQ n` when given and something matched (RFC 7162 §3.1.5).
pub fn write_esearch(
    out: &mut Vec<u8>,
    tag: Option<&str>,
    uid: bool,
    returns: &[SearchReturn],
    numbers: &[u32],
    modseq: Option<u64>,
) {
    if returns == [SearchReturn::Save] {
        return;
    }
    let wants =
        |r: SearchReturn| returns.contains(&r) || (returns.is_empty() && r == SearchReturn::All);
    out.extend_from_slice(b"* ESEARCH");
    if let Some(tag) = tag {
        // RFC 4731 §3.1: `search-correlator = SP "(" "TAG" SP tag-string ")"`.
        out.extend_from_slice(b" (TAG ");
        postwerk_message::write_string(tag, out);
        out.push(b')');
    }
    if uid {
        out.extend_from_slice(b" UID");
    }
    if let (Some(&min), Some(&max)) = (numbers.first(), numbers.last()) {
        if wants(SearchReturn::Min) {
            out.extend_from_slice(b" MIN ");
            push_number(out, u64::from(min));
        }
        if wants(SearchReturn::Max) {
            out.extend_from_slice(b" MAX ");
            push_number(out, u64::from(max));
        }
    }
    if wants(SearchReturn::Count) {
        out.extend_from_slice(b" COUNT ");
        push_number(out, numbers.len() as u64);
    }
    if wants(SearchReturn::All) && !numbers.is_empty() {
        out.extend_from_slice(b" ALL ");
        crate::proto::write::uid_set(out, numbers);
    }
    if let (Some(modseq), false) = (modseq, numbers.is_empty()) {
        out.extend_from_slice(b" MODSEQ ");
        push_number(out, modseq);
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use postwerk_store::{BlobId, Flags, Keyword};

    use super::*;
    use crate::proto::{SeqNumber, SequenceSet};

    const RAW: &str = "From: \"Jörg Müller\" <joerg@example.com>\r\n\
To: Team: a@x.test, Bob <BOB@x.test>;\r\n\
Cc: carol@y.test\r\n\
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from the Team\r\n\
Date: Mon, 31 Dec 2018 23:30:00 -0800\r\n\
Message-ID: <abc@example.com>\r\n\
In-Reply-To: <parent@example.com>\r\n\
References: <root@example.com>\r\n <parent@example.com>\r\n\
X-Spam-Flag: YES\r\n\
X-Folded: first part\r\n second Part\r\n\
\r\n\
Body text\r\n";

    fn meta() -> MessageMeta {
        MessageMeta {
            uid: 20,
            modseq: 100,
            flags: Flags::system(SystemFlags::SEEN.union(SystemFlags::FLAGGED))
                .with_keyword(Keyword::parse("$Forwarded").expect("keyword")),
            // 2019-01-01 07:30:00 UTC
            internal_date: 1_546_327_800,
            // 2019-01-02 00:00:00 UTC
            saved_at: 1_546_387_200,
            size: RAW.len() as u64,
            blob: BlobId::of(RAW.as_bytes()),
            subject: Some("Grüße from the Team".into()),
            from: Some("joerg@example.com".into()),
            sent_date: Some(1_546_327_800),
            has_attachments: false,
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn set(ranges: &[(SeqNumber, SeqNumber)]) -> SequenceSet {
        SequenceSet::Ranges(ranges.to_vec())
    }

    use SeqNumber::{Largest, Value};

    /// Evaluates `key` against the sample message with everything loaded.
    fn check(key: &SearchKey) -> bool {
        let meta = meta();
        let index = MessageIndex::parse(RAW.as_bytes());
        let mut hits = TextHits::new();
        hits.insert(TextScope::Body, "body", vec![30, 20, 10]);
        hits.insert(TextScope::Anywhere, "absent", vec![1]);
        hits.insert(TextScope::Anywhere, "header only", vec![10, 20, 30]);
        let msg = SearchMessage {
            seq: 4,
            meta: &meta,
            index: Some(&index),
            content: Some(RAW.as_bytes()),
        };
        let ctx = SearchContext {
            last_seq: 9,
            last_uid: 25,
            // 2019-01-01 08:30:00 UTC: an hour after the INTERNALDATE.
            now: 1_546_331_400,
            text_hits: &hits,
        };
        matches(key, &msg, &ctx)
    }

    fn s(text: &str) -> String {
        text.to_string()
    }

    #[test]
    fn keys_match_as_rfc_9051_says() {
        use SearchKey as K;
        let cases: Vec<(SearchKey, bool)> = vec![
            (K::All, true),
            (K::Old, true),
            (K::New, false),
            (K::Recent, false),
            (K::SaveDateSupported, true),
            // Flags.
            (K::Seen, true),
            (K::Unseen, false),
            (K::Flagged, true),
            (K::Unflagged, false),
            (K::Answered, false),
            (K::Unanswered, true),
            (K::Deleted, false),
            (K::Undeleted, true),
            (K::Draft, false),
            (K::Undraft, true),
            (K::Keyword(s("$forwarded")), true),
            (K::Keyword(s("$Junk")), false),
            (K::Unkeyword(s("$Junk")), true),
            (K::Unkeyword(s("$FORWARDED")), false),
            // Sizes, numbers, MODSEQ.
            (K::Larger(RAW.len() as u64 - 1), true),
            (K::Larger(RAW.len() as u64), false),
            (K::Smaller(RAW.len() as u64 + 1), true),
            (K::Smaller(RAW.len() as u64), false),
            (K::Sequence(set(&[(Value(4), Value(4))])), true),
            (K::Sequence(set(&[(Value(5), Largest)])), false),
            (K::Sequence(set(&[(Largest, Value(3))])), true),
            (K::Uid(set(&[(Value(20), Value(20))])), true),
            (K::Uid(set(&[(Largest, Largest)])), false),
            (K::Uid(set(&[(Value(21), Largest)])), false),
            (K::Uid(SequenceSet::Saved), false),
            (K::ModSeq(100), true),
            (K::ModSeq(101), false),
            // Dates: INTERNALDATE is 2019-01-01 in UTC.
            (K::Before(date(2019, 1, 1)), false),
            (K::Before(date(2019, 1, 2)), true),
            (K::On(date(2019, 1, 1)), true),
            (K::Since(date(2019, 1, 1)), true),
            (K::Since(date(2019, 1, 2)), false),
            // SAVEDATE is 2019-01-02.
            (K::SavedOn(date(2019, 1, 2)), true),
            (K::SavedBefore(date(2019, 1, 2)), false),
            (K::SavedSince(date(2019, 1, 3)), false),
            // The Date header says 31 Dec 2018 (in -0800), whatever UTC says.
            (K::SentOn(date(2018, 12, 31)), true),
            (K::SentOn(date(2019, 1, 1)), false),
            (K::SentBefore(date(2019, 1, 1)), true),
            (K::SentSince(date(2019, 1, 1)), false),
            // Arrived an hour (3600 s) ago.
            (K::Older(3599), true),
            (K::Older(3600), false),
            (K::Younger(3600), true),
            (K::Younger(3599), false),
            // Strings: case-insensitive substrings of decoded values.
            (K::Subject(s("GRÜSSE")), false),
            (K::Subject(s("grüße")), true),
            (K::Subject(s("THE team")), true),
            (K::From(s("jörg")), true),
            (K::From(s("JOERG@EXAMPLE")), true),
            (K::From(s("nobody")), false),
            (K::To(s("bob@x")), true),
            (K::To(s("a@x.test")), true),
            (K::To(s("Team")), false),
            (K::Cc(s("carol")), true),
            (K::Bcc(s("")), false),
            (K::Body(s("body")), true),
            (K::Text(s("BODY")), false),
            // The answers of one scope never stand in for the other's.
            (K::Text(s("body")), false),
            (K::Text(s("header only")), true),
            (K::Body(s("header only")), false),
            (K::Text(s("absent")), false),
            (K::Text(s("unknown needle")), false),
            (K::Text(s("")), true),
            // HEADER: summary fields decoded, others raw and unfolded.
            (K::Header(s("Message-ID"), s("<abc@example.com>")), true),
            (K::Header(s("message-id"), s("ABC@")), true),
            (K::Header(s("In-Reply-To"), s("<parent@")), true),
            (
                K::Header(s("References"), s("<root@example.com> <parent")),
                true,
            ),
            (K::Header(s("Subject"), s("grüße")), true),
            (K::Header(s("FROM"), s("müller")), true),
            (K::Header(s("Reply-To"), s("")), false),
            (K::Header(s("x-spam-flag"), s("yes")), true),
            (K::Header(s("X-Spam-Flag"), s("")), true),
            (K::Header(s("X-Folded"), s("PART second")), true),
            (K::Header(s("X-Absent"), s("")), false),
            (K::Header(s("Date"), s("31 Dec 2018")), true),
            // Combinations.
            (K::And(vec![K::Seen, K::Flagged]), true),
            (K::And(vec![K::Seen, K::Draft]), false),
            (K::And(vec![]), true),
            (K::Or(Box::new(K::Draft), Box::new(K::Seen)), true),
            (K::Or(Box::new(K::Draft), Box::new(K::Deleted)), false),
            (K::Not(Box::new(K::Draft)), true),
            (K::Not(Box::new(K::Not(Box::new(K::Draft)))), false),
        ];
        for (key, expected) in cases {
            assert_eq!(check(&key), expected, "{key:?}");
        }
    }

    #[test]
    fn missing_index_and_content_never_match_instead_of_failing() {
        let meta = meta();
        let hits = TextHits::new();
        let msg = SearchMessage {
            seq: 1,
            meta: &meta,
            index: None,
            content: None,
        };
        let ctx = SearchContext {
            last_seq: 1,
            last_uid: 20,
            now: 0,
            text_hits: &hits,
        };
        let cases = [
            (SearchKey::To(s("bob")), false),
            (SearchKey::Header(s("X-Spam-Flag"), s("")), false),
            (SearchKey::Header(s("Message-ID"), s("")), false),
            // The meta holds the first From address, the subject and the sent date.
            (SearchKey::From(s("joerg@")), true),
            (SearchKey::Subject(s("team")), true),
            (SearchKey::Header(s("subject"), s("team")), true),
            (SearchKey::SentOn(date(2019, 1, 1)), true),
            // The clock is before the INTERNALDATE: a negative age.
            (SearchKey::Younger(0), true),
            (SearchKey::Uid(set(&[(Largest, Largest)])), true),
        ];
        for (key, expected) in cases {
            assert_eq!(matches(&key, &msg, &ctx), expected, "{key:?}");
        }
    }

    #[test]
    fn needs_say_what_to_load() {
        use SearchKey as K;
        let cases: Vec<(SearchKey, SearchNeeds)> = vec![
            (
                K::And(vec![
                    K::Seen,
                    K::Larger(5),
                    K::Subject(s("x")),
                    K::Since(date(2020, 1, 1)),
                ]),
                SearchNeeds::default(),
            ),
            (
                K::Or(Box::new(K::From(s("a"))), Box::new(K::Seen)),
                SearchNeeds {
                    index: true,
                    ..Default::default()
                },
            ),
            (
                K::Not(Box::new(K::SentOn(date(2020, 1, 1)))),
                SearchNeeds {
                    index: true,
                    ..Default::default()
                },
            ),
            (
                K::Header(s("Message-ID"), s("x")),
                SearchNeeds {
                    index: true,
                    ..Default::default()
                },
            ),
            (K::Header(s("SUBJECT"), s("x")), SearchNeeds::default()),
            (
                K::Header(s("List-Id"), s("x")),
                SearchNeeds {
                    content: true,
                    ..Default::default()
                },
            ),
            (
                K::And(vec![
                    K::Text(s("one")),
                    K::Body(s("two")),
                    K::Not(Box::new(K::Text(s("one")))),
                    K::Body(s("")),
                ]),
                SearchNeeds {
                    texts: vec![
                        TextQuery {
                            scope: TextScope::Anywhere,
                            needle: s("one"),
                        },
                        TextQuery {
                            scope: TextScope::Body,
                            needle: s("two"),
                        },
                    ],
                    ..Default::default()
                },
            ),
        ];
        for (key, expected) in cases {
            assert_eq!(needs(&key), expected, "{key:?}");
        }
        assert!(uses_modseq(&K::And(vec![
            K::Seen,
            K::Not(Box::new(K::ModSeq(3)))
        ])));
        assert!(!uses_modseq(&K::Or(Box::new(K::Seen), Box::new(K::All))));
    }

    fn search(numbers: &[u32], modseq: Option<u64>) -> String {
        let mut out = Vec::new();
        write_search(&mut out, numbers, modseq);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn search_responses() {
        assert_eq!(search(&[2, 5, 7], None), "* SEARCH 2 5 7\r\n");
        assert_eq!(
            search(&[2, 5, 7], Some(917)),
            "* SEARCH 2 5 7 (MODSEQ 917)\r\n"
        );
        assert_eq!(search(&[], Some(917)), "* SEARCH\r\n");
        assert_eq!(search(&[], None), "* SEARCH\r\n");
    }

    fn esearch(
        tag: Option<&str>,
        uid: bool,
        returns: &[SearchReturn],
        numbers: &[u32],
        modseq: Option<u64>,
    ) -> String {
        let mut out = Vec::new();
        write_esearch(&mut out, tag, uid, returns, numbers, modseq);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn esearch_responses_follow_rfc_4731() {
        use SearchReturn::{All, Count, Max, Min, Save};
        let cases = [
            (
                esearch(
                    Some("a1"),
                    true,
                    &[Min, Max, Count, All],
                    &[2, 5, 6, 7],
                    None,
                ),
                "* ESEARCH (TAG \"a1\") UID MIN 2 MAX 7 COUNT 4 ALL 2,5:7\r\n",
            ),
            (
                esearch(Some("a2"), false, &[], &[1, 2, 3, 5], None),
                "* ESEARCH (TAG \"a2\") ALL 1:3,5\r\n",
            ),
            (
                esearch(Some("a3"), false, &[Min, Count], &[], None),
                "* ESEARCH (TAG \"a3\") COUNT 0\r\n",
            ),
            (
                esearch(Some("a4"), true, &[Min, Max, All], &[], Some(9)),
                "* ESEARCH (TAG \"a4\") UID\r\n",
            ),
            (
                esearch(Some("a5"), false, &[Count], &[4, 9], Some(90)),
                "* ESEARCH (TAG \"a5\") COUNT 2 MODSEQ 90\r\n",
            ),
            (
                esearch(None, false, &[Max], &[4, 9], None),
                "* ESEARCH MAX 9\r\n",
            ),
            (
                esearch(Some("a6"), false, &[Save, Min], &[4, 9], None),
                "* ESEARCH (TAG \"a6\") MIN 4\r\n",
            ),
            (esearch(Some("a7"), false, &[Save], &[4, 9], None), ""),
        ];
        for (got, expected) in cases {
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn case_insensitive_substrings() {
        let cases = [
            ("Hello World", "o w", true),
            ("Hello", "", true),
            ("", "", true),
            ("", "a", false),
            ("Hi", "Hello", false),
            ("Grüße", "GRÜ", true),
            ("ÄRGER", "ärger", true),
            ("plain", "ü", false),
        ];
        for (hay, needle, expected) in cases {
            assert_eq!(contains_ci(hay, needle), expected, "{hay:?} {needle:?}");
        }
    }
}
