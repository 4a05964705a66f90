//! SORT (RFC 5256 §3, with DISPLAYFROM/DISPLAYTO of RFC 5957) and the base subject of RFC 5256
//! §2.1, which THREAD ([`crate::thread`]) shares.
//!
//! Pure: the session selects the messages (with [`crate::search`]), loads their metas and, when a
//! key needs addresses, their indexes, then calls [`sort`] and writes the numbers in order.
//!
//! Sort keys are computed once per message (not once per comparison): a SORT SUBJECT over ten
//! thousand messages extracts ten thousand base subjects, not a hundred and thirty thousand.

use std::cmp::Ordering;

use postwerk_message::{Addr, MessageIndex, base_subject};
use postwerk_store::MessageMeta;

use crate::proto::{SortCriterion, SortKey};

/// One message to sort (or to thread, see [`crate::thread::ThreadItem`]).
#[derive(Debug, Clone, Copy)]
pub struct SortItem<'a> {
    /// What the response lists: the sequence number (SORT) or the UID (UID SORT). Ties between
    /// messages that compare equal are broken by this number, ascending, which is mailbox order
    /// in both cases (RFC 5256 §3: "sorted according to the order in which they appear in the
    /// mailbox").
    pub number: u32,
    /// The message as listed: INTERNALDATE, size, decoded subject, first From, sent date.
    pub meta: &'a MessageMeta,
    /// The parse-once index; needed only for CC, TO, DISPLAYFROM and DISPLAYTO (see
    /// [`needs_index`]). Without it those keys sort as if the field were empty (FROM falls back
    /// to the first From address of the meta).
    pub index: Option<&'a MessageIndex>,
}

/// Whether sorting by `criteria` needs the messages' indexes (address keys other than FROM, which
/// the meta holds).
pub fn needs_index(criteria: &[SortCriterion]) -> bool {
    criteria.iter().any(|c| {
        matches!(
            c.key,
            SortKey::Cc | SortKey::To | SortKey::DisplayFrom | SortKey::DisplayTo
        )
    })
}

/// Sorts `items` by `criteria` (RFC 5256 §3), in place. Messages that compare equal on every
/// criterion stay in ascending [`SortItem::number`] order; `REVERSE` reverses its own key only,
/// never that tie-break. With no criteria the items end up in number order.
pub fn sort(items: &mut [SortItem<'_>], criteria: &[SortCriterion]) {
    let mut keyed: Vec<(Vec<Key>, SortItem<'_>)> = items
        .iter()
        .map(|item| (criteria.iter().map(|c| key(item, c.key)).collect(), *item))
        .collect();
    keyed.sort_by(|(a_keys, a), (b_keys, b)| {
        for ((criterion, x), y) in criteria.iter().zip(a_keys).zip(b_keys) {
            let order = if criterion.reverse {
                y.cmp(x)
            } else {
                x.cmp(y)
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        a.number.cmp(&b.number)
    });
    for (slot, (_, item)) in items.iter_mut().zip(keyed) {
        *slot = item;
    }
}

/// A computed sort key. Within one criterion all items get the same variant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Number(i64),
    /// Case-folded text (RFC 5256 §3 compares with i;ascii-casemap, RFC 5957 with
    /// i;unicode-casemap; full lower-casing satisfies both for ordering purposes).
    Text(String),
}

fn key(item: &SortItem<'_>, key: SortKey) -> Key {
    let meta = item.meta;
    let summary = item.index.map(|i| &i.summary);
    match key {
        SortKey::Arrival => Key::Number(meta.internal_date),
        // RFC 5256 §3: the sent date, or the INTERNALDATE when it cannot be determined.
        SortKey::Date => Key::Number(sent_date(meta)),
        SortKey::Size => Key::Number(i64::try_from(meta.size).unwrap_or(i64::MAX)),
        SortKey::Subject => Key::Text(base_subject(subject(item)).to_lowercase()),
        // RFC 5256 §3: the addr-mailbox (local part) of the first address.
        SortKey::From => Key::Text(match summary {
            Some(s) => first_mailbox(&s.from),
            None => meta
                .from
                .as_deref()
                .map(|a| a.rsplit_once('@').map_or(a, |(local, _)| local))
                .unwrap_or("")
                .to_lowercase(),
        }),
        SortKey::To => Key::Text(summary.map(|s| first_mailbox(&s.to)).unwrap_or_default()),
        SortKey::Cc => Key::Text(summary.map(|s| first_mailbox(&s.cc)).unwrap_or_default()),
        SortKey::DisplayFrom => Key::Text(match summary {
            Some(s) => display(&s.from),
            None => meta.from.as_deref().unwrap_or("").to_lowercase(),
        }),
        SortKey::DisplayTo => Key::Text(summary.map(|s| display(&s.to)).unwrap_or_default()),
    }
}

/// The date SORT DATE and THREAD use: the Date header, else INTERNALDATE (RFC 5256 §3).
pub(crate) fn sent_date(meta: &MessageMeta) -> i64 {
    meta.sent_date.unwrap_or(meta.internal_date)
}

/// The decoded subject of a message: the meta's, else the index's, else empty.
pub(crate) fn subject<'a>(item: &SortItem<'a>) -> &'a str {
    item.meta
        .subject
        .as_deref()
        .or_else(|| item.index.and_then(|i| i.summary.subject.as_deref()))
        .unwrap_or("")
}

/// The local part of the first address, case-folded; empty when there is none.
fn first_mailbox(addrs: &[Addr]) -> String {
    addrs
        .first()
        .and_then(|a| a.mailbox.as_deref())
        .unwrap_or("")
        .to_lowercase()
}

/// RFC 5957 §2: the display name of the first address, or its address when the name is missing
/// or empty; case-folded.
fn display(addrs: &[Addr]) -> String {
    let Some(first) = addrs.first() else {
        return String::new();
    };
    match first.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_lowercase(),
        _ => first.address().unwrap_or_default().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use postwerk_store::{BlobId, Flags};

    use super::*;

    pub(crate) fn meta(uid: u32) -> MessageMeta {
        MessageMeta {
            uid,
            modseq: 1,
            flags: Flags::none(),
            internal_date: 1_000_000,
            saved_at: 1_000_000,
            size: 100,
            blob: BlobId::of(b"x"),
            subject: None,
            from: None,
            sent_date: None,
            has_attachments: false,
        }
    }

    fn numbers(items: &[SortItem<'_>]) -> Vec<u32> {
        items.iter().map(|i| i.number).collect()
    }

    fn items<'a>(metas: &'a [MessageMeta], indexes: &'a [MessageIndex]) -> Vec<SortItem<'a>> {
        metas
            .iter()
            .zip(indexes)
            .map(|(meta, index)| SortItem {
                number: meta.uid,
                meta,
                index: Some(index),
            })
            .collect()
    }

    fn by(key: SortKey) -> SortCriterion {
        SortCriterion {
            reverse: false,
            key,
        }
    }

    fn reverse(key: SortKey) -> SortCriterion {
        SortCriterion { reverse: true, key }
    }

    #[test]
    fn numeric_keys_with_ties_in_mailbox_order() {
        let mut metas: Vec<MessageMeta> = (1..=5).map(meta).collect();
        for (m, (date, size, sent)) in metas.iter_mut().zip([
            (50, 300, Some(10)),
            (40, 100, None),
            (50, 200, Some(30)),
            (10, 100, Some(20)),
            (30, 300, None),
        ]) {
            m.internal_date = date;
            m.size = size;
            m.sent_date = sent;
        }
        let indexes = vec![MessageIndex::parse(b""); 5];
        let cases = [
            (vec![by(SortKey::Arrival)], vec![4, 5, 2, 1, 3]),
            (vec![reverse(SortKey::Arrival)], vec![1, 3, 2, 5, 4]),
            (vec![by(SortKey::Size)], vec![2, 4, 3, 1, 5]),
            (vec![reverse(SortKey::Size)], vec![1, 5, 3, 2, 4]),
            (
                vec![reverse(SortKey::Size), by(SortKey::Arrival)],
                vec![5, 1, 3, 4, 2],
            ),
            // DATE: the sent date, INTERNALDATE when missing (2 → 40, 5 → 30).
            (vec![by(SortKey::Date)], vec![1, 4, 3, 5, 2]),
            (vec![], vec![1, 2, 3, 4, 5]),
        ];
        for (criteria, expected) in cases {
            let mut list = items(&metas, &indexes);
            list.reverse();
            sort(&mut list, &criteria);
            assert_eq!(numbers(&list), expected, "criteria {criteria:?}");
        }
    }

    #[test]
    fn text_keys_compare_case_insensitively() {
        let raws = [
            "From: Zed <alpha@x.test>\r\nTo: b@x.test\r\nCc: Mike <Zulu@x.test>\r\nSubject: Re: banana\r\n\r\n",
            "From: Adam <zulu@x.test>\r\nTo: \"\" <a@x.test>\r\nSubject: apple\r\n\r\n",
            "From: bravo@x.test\r\nTo: C <c@x.test>\r\nCc: alpha@x.test\r\nSubject: [list] Cherry\r\n\r\n",
            "Subject: Fwd: APPLE\r\n\r\n",
        ];
        let indexes: Vec<MessageIndex> = raws
            .iter()
            .map(|r| MessageIndex::parse(r.as_bytes()))
            .collect();
        let metas: Vec<MessageMeta> = (1..=4)
            .zip(&indexes)
            .map(|(uid, index)| {
                let mut m = meta(uid);
                m.subject = index.summary.subject.clone();
                m.from = index.summary.from.first().and_then(Addr::address);
                m
            })
            .collect();
        let cases = [
            // Missing fields sort as empty strings, first.
            (by(SortKey::From), vec![4, 1, 3, 2]),
            (reverse(SortKey::From), vec![2, 3, 1, 4]),
            (by(SortKey::To), vec![4, 2, 1, 3]),
            (by(SortKey::Cc), vec![2, 4, 3, 1]),
            (by(SortKey::Subject), vec![2, 4, 1, 3]),
            // DISPLAYFROM: names, else the address.
            (by(SortKey::DisplayFrom), vec![4, 2, 3, 1]),
            // DISPLAYTO: an empty name falls back to the address.
            (by(SortKey::DisplayTo), vec![4, 2, 1, 3]),
        ];
        for (criterion, expected) in cases {
            let mut list = items(&metas, &indexes);
            sort(&mut list, &[criterion]);
            assert_eq!(numbers(&list), expected, "criterion {criterion:?}");
        }
        // Without indexes, FROM and DISPLAYFROM fall back to the meta's first From address.
        let mut list: Vec<SortItem<'_>> = metas
            .iter()
            .map(|meta| SortItem {
                number: meta.uid,
                meta,
                index: None,
            })
            .collect();
        sort(&mut list, &[by(SortKey::From)]);
        assert_eq!(numbers(&list), vec![4, 1, 3, 2]);
        sort(&mut list, &[by(SortKey::Cc)]);
        assert_eq!(numbers(&list), vec![1, 2, 3, 4]);
    }

    #[test]
    fn index_needed_only_for_addresses_the_meta_lacks() {
        assert!(!needs_index(&[by(SortKey::From), by(SortKey::Subject)]));
        assert!(!needs_index(&[by(SortKey::Date), by(SortKey::Arrival)]));
        for key in [
            SortKey::To,
            SortKey::Cc,
            SortKey::DisplayFrom,
            SortKey::DisplayTo,
        ] {
            assert!(needs_index(&[by(key)]), "{key:?}");
        }
    }
}
