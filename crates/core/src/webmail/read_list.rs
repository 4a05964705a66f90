//! The message list (CLI-1): filter, sort and page a folder's metadata.
//!
//! Everything here works on the store's `MessageMeta` rows (subject, first From address,
//! dates, size, flags), never on message bodies: a 100,000-message folder is listed from one
//! metadata query, sorted in memory, and only the page shown becomes `MessageLine`s.

use std::collections::HashSet;
use std::ops::Range;

use postwerk_message::base_subject;
use postwerk_store::{MessageMeta, SystemFlags};

use crate::webmail::{DEFAULT_PAGE_SIZE, ListQuery, MAX_PAGE_SIZE, MessageLine, SortKey};

/// The messages matching `query`'s filters: `unread_only`, and `search` as a case-insensitive
/// substring of the subject or sender, or a message of `text_hits` (the store's full-text
/// search, which covers headers and text).
pub(super) fn filter(
    metas: Vec<MessageMeta>,
    query: &ListQuery,
    text_hits: Option<&HashSet<u32>>,
) -> Vec<MessageMeta> {
    let needle = search_needle(query).map(str::to_lowercase);
    metas
        .into_iter()
        .filter(|meta| !query.unread_only || !meta.flags.system.contains(SystemFlags::SEEN))
        .filter(|meta| match &needle {
            None => true,
            Some(needle) => {
                text_hits.is_some_and(|hits| hits.contains(&meta.uid))
                    || contains_lowercase(meta.subject.as_deref(), needle)
                    || contains_lowercase(meta.from.as_deref(), needle)
            }
        })
        .collect()
}

/// The search text of the query, if it has one that is not blank.
pub(super) fn search_needle(query: &ListQuery) -> Option<&str> {
    query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|needle| !needle.is_empty())
}

fn contains_lowercase(text: Option<&str>, needle: &str) -> bool {
    text.is_some_and(|text| text.to_lowercase().contains(needle))
}

/// Sorts by `key`, newest (largest, Z) first unless `ascending`; ties go by UID so the order
/// is total and pages never overlap.
pub(super) fn sort(metas: &mut [MessageMeta], key: SortKey, ascending: bool) {
    match key {
        // Arrival in this folder: UID order (RFC 9051 §2.3.1.1, UIDs grow as messages are added).
        SortKey::Arrival => metas.sort_unstable_by_key(|m| m.uid),
        SortKey::Date => metas.sort_unstable_by_key(|m| (display_date(m), m.uid)),
        SortKey::Size => metas.sort_unstable_by_key(|m| (m.size, m.uid)),
        SortKey::From => {
            metas.sort_by_cached_key(|m| (m.from.as_deref().unwrap_or("").to_lowercase(), m.uid))
        }
        SortKey::Subject => metas.sort_by_cached_key(|m| {
            let subject = m.subject.as_deref().unwrap_or("");
            // RFC 5256 §2.1, as IMAP SORT SUBJECT does: a thread sorts together.
            (base_subject(subject).to_lowercase(), m.uid)
        }),
    }
    if !ascending {
        metas.reverse();
    }
}

/// The page to show: `(page, per_page, range of the sorted messages)`. `per_page` 0 means
/// the default and is capped at [`MAX_PAGE_SIZE`]; the page is clamped to `1..=last`.
pub(super) fn page_bounds(total: usize, page: u32, per_page: u32) -> (u32, u32, Range<usize>) {
    let per_page = match per_page {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    };
    let size = per_page as usize;
    let last = total.div_ceil(size).max(1);
    let page = (page.max(1) as usize).min(last);
    let start = (page - 1) * size;
    let end = (start + size).min(total);
    (
        u32::try_from(page).unwrap_or(u32::MAX),
        per_page,
        start..end,
    )
}

/// The Date header, else the arrival time.
pub(super) fn display_date(meta: &MessageMeta) -> i64 {
    meta.sent_date.unwrap_or(meta.internal_date)
}

/// One line of the list.
pub(super) fn line(meta: &MessageMeta) -> MessageLine {
    let flags = meta.flags.system;
    MessageLine {
        uid: meta.uid,
        subject: meta.subject.clone().unwrap_or_default(),
        from: meta.from.clone().unwrap_or_default(),
        date: display_date(meta),
        size: meta.size,
        seen: flags.contains(SystemFlags::SEEN),
        flagged: flags.contains(SystemFlags::FLAGGED),
        answered: flags.contains(SystemFlags::ANSWERED),
        has_attachments: meta.has_attachments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_clamped() {
        assert_eq!(page_bounds(0, 1, 0), (1, DEFAULT_PAGE_SIZE, 0..0));
        assert_eq!(page_bounds(120, 0, 50), (1, 50, 0..50));
        assert_eq!(page_bounds(120, 3, 50), (3, 50, 100..120));
        assert_eq!(page_bounds(120, 9, 50), (3, 50, 100..120));
        assert_eq!(page_bounds(1000, 2, 5000), (2, MAX_PAGE_SIZE, 200..400));
    }
}
