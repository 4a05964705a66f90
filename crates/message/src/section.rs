//! Byte ranges of IMAP body sections (RFC 9051 §6.4.5 `BODY[section]`).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::MessageIndex;
use crate::body::BodyStructure;
use crate::numbering::{self, Inside, Place, Slot};

/// The byte ranges, in the raw message, of one part and its sub-sections.
///
/// For a part numbered `p`: `body` is `BODY[p]`, `mime` is `BODY[p.MIME]`, `header` is
/// `BODY[p.HEADER]` and `text` is `BODY[p.TEXT]`. For the whole message (empty path): `body` is
/// `BODY[]`, `header` is `BODY[HEADER]`, `text` is `BODY[TEXT]`. `HEADER.FIELDS` and
/// `HEADER.FIELDS.NOT` select lines inside `header`. Header ranges include the blank line that
/// ends the header (RFC 9051 §6.4.5: "the blank line is included in all header fetches").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionRanges {
    /// The section's content: the whole message, or the part's body as transmitted (for a
    /// message/rfc822 part: the whole encapsulated message).
    pub body: Range<u64>,
    /// The part's MIME header; `None` for the whole message (RFC 9051 §6.4.5: MIME needs a part
    /// number). For part `1` of a non-multipart message it is the message header.
    pub mime: Option<Range<u64>>,
    /// The header of the message: the whole message's, or a message/rfc822 part's encapsulated
    /// one. `None` for other parts (RFC 9051 §6.4.5: HEADER and TEXT only apply to messages).
    pub header: Option<Range<u64>>,
    /// The body of that message (what follows `header`); `None` when `header` is.
    pub text: Option<Range<u64>>,
}

impl MessageIndex {
    /// The ranges of the part numbered `path` (`[1, 2]` is part `1.2`; `[]` is the whole
    /// message) in `raw`, the message this index was made from.
    ///
    /// `None` when no such part exists (RFC 9051 §6.4.5 numbering: a non-multipart message or
    /// encapsulated message has only part 1), when `raw` is not as long as the indexed message, or
    /// when the part lies inside an encapsulated message that was transfer-encoded and so has no
    /// bytes of its own. Every range returned lies within `raw`, so slicing cannot panic.
    pub fn section(&self, raw: &[u8], path: &[u32]) -> Option<SectionRanges> {
        let len = raw.len() as u64;
        if len != self.size {
            return None;
        }
        let ranges = if path.is_empty() {
            let header_len = self.header_len.min(len);
            SectionRanges {
                body: 0..len,
                mime: None,
                header: Some(0..header_len),
                text: Some(header_len..len),
            }
        } else {
            part_ranges(self.body.part(path)?)
        };
        let within = |r: &Range<u64>| r.start <= r.end && r.end <= len;
        let all_within = within(&ranges.body)
            && [&ranges.mime, &ranges.header, &ranges.text]
                .iter()
                .all(|r| r.as_ref().is_none_or(within));
        all_within.then_some(ranges)
    }
}

impl BodyStructure {
    /// The part numbered `path` (`[1, 2]` for `1.2`) of this message body, as IMAP numbers
    /// parts (RFC 9051 §6.4.5); `None` when there is no such part. An empty path names nothing:
    /// the whole message is not a part.
    pub fn part(&self, path: &[u32]) -> Option<&BodyStructure> {
        part_of(self, path)
    }
}

/// Finds the part numbered `path` below `root`, the root body of a message, by the numbering
/// rule of [`crate::numbering`] (the one that gave every node its `path`).
fn part_of<'a>(root: &'a BodyStructure, path: &[u32]) -> Option<&'a BodyStructure> {
    // `container` is where the next number is looked up, standing at `place`.
    let (mut container, mut place) = (root, Place::MessageRoot);
    for (i, &number) in path.iter().enumerate() {
        let target = match numbering::slot(container, place, number)? {
            Slot::Itself => container,
            Slot::Part(index) => match container {
                BodyStructure::Multipart { parts, .. } => parts.get(index)?,
                BodyStructure::Single { .. } => return None,
            },
        };
        if i + 1 == path.len() {
            return Some(target);
        }
        (container, place) = match (numbering::inside(target)?, target) {
            (Inside::Parts, _) => (target, Place::InMultipart),
            // The parts of a transfer-encoded message have no bytes of their own to address.
            (
                Inside::Message,
                BodyStructure::Single {
                    message: Some(inner),
                    ..
                },
            ) if has_own_bytes(target) => (&inner.1, Place::MessageRoot),
            _ => return None,
        };
    }
    None
}

/// Whether the message inside a message/rfc822 part lies in the raw bytes as is (not base64 or
/// quoted-printable encoded, which RFC 2046 §5.2.1 forbids but some senders do).
fn has_own_bytes(part: &BodyStructure) -> bool {
    match part {
        BodyStructure::Single { encoding, .. } => {
            !encoding.eq_ignore_ascii_case("base64")
                && !encoding.eq_ignore_ascii_case("quoted-printable")
        }
        BodyStructure::Multipart { .. } => true,
    }
}

fn part_ranges(part: &BodyStructure) -> SectionRanges {
    let (header, text) = match part {
        BodyStructure::Single {
            message: Some(inner),
            ..
        } if has_own_bytes(part) => (Some(inner.1.header().clone()), Some(inner.1.body().clone())),
        _ => (None, None),
    };
    SectionRanges {
        body: part.body().clone(),
        mime: Some(part.header().clone()),
        header,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message with every kind of section: multipart/mixed with a nested alternative, an
    /// attachment, and a forwarded message that itself is multipart.
    const RAW: &str = "From: a@x.test\r\n\
Subject: sections\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
preamble\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain\r\n\
\r\n\
plain body\r\n\
--alt\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>html body</p>\r\n\
--alt--\r\n\
--outer\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAEC\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: b@y.test\r\n\
Subject: inner\r\n\
Content-Type: multipart/mixed; boundary=\"inner\"\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain\r\n\
\r\n\
inner text\r\n\
--inner--\r\n\
\r\n\
--outer--\r\n\
epilogue\r\n";

    fn slice<'a>(raw: &'a str, range: &Range<u64>) -> &'a str {
        &raw[range.start as usize..range.end as usize]
    }

    /// (path, BODY[p], BODY[p.MIME], BODY[p.HEADER], BODY[p.TEXT])
    type SectionCase = (
        &'static [u32],
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn sections_address_the_right_bytes() {
        let index = MessageIndex::parse(RAW.as_bytes());
        let cases: Vec<SectionCase> = vec![
            (
                &[1, 1],
                "plain body",
                Some("Content-Type: text/plain\r\n\r\n"),
                None,
                None,
            ),
            (
                &[1, 2],
                "<p>html body</p>",
                Some("Content-Type: text/html\r\n\r\n"),
                None,
                None,
            ),
            (
                &[2],
                "AAEC",
                Some(
                    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                ),
                None,
                None,
            ),
            (
                &[3],
                "From: b@y.test\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--inner--\r\n",
                Some("Content-Type: message/rfc822\r\n\r\n"),
                Some(
                    "From: b@y.test\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n",
                ),
                Some("--inner\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--inner--\r\n"),
            ),
            (
                &[3, 1],
                "inner text",
                Some("Content-Type: text/plain\r\n\r\n"),
                None,
                None,
            ),
        ];
        for (path, body, mime, header, text) in cases {
            let s = index
                .section(RAW.as_bytes(), path)
                .unwrap_or_else(|| panic!("path {path:?}"));
            assert_eq!(slice(RAW, &s.body), body, "BODY[{path:?}]");
            assert_eq!(
                s.mime.as_ref().map(|r| slice(RAW, r)),
                mime,
                "BODY[{path:?}.MIME]"
            );
            assert_eq!(
                s.header.as_ref().map(|r| slice(RAW, r)),
                header,
                "BODY[{path:?}.HEADER]"
            );
            assert_eq!(
                s.text.as_ref().map(|r| slice(RAW, r)),
                text,
                "BODY[{path:?}.TEXT]"
            );
        }
    }

    #[test]
    fn multipart_sections_cover_the_multipart_body() {
        let index = MessageIndex::parse(RAW.as_bytes());
        let s = index.section(RAW.as_bytes(), &[1]).expect("part 1 exists");
        let body = slice(RAW, &s.body);
        assert!(
            body.starts_with("--alt\r\n") && body.ends_with("--alt--"),
            "{body:?}"
        );
        assert_eq!(s.header, None);
    }

    #[test]
    fn whole_message_sections() {
        let index = MessageIndex::parse(RAW.as_bytes());
        let s = index.section(RAW.as_bytes(), &[]).expect("whole message");
        assert_eq!(slice(RAW, &s.body), RAW);
        let header = slice(RAW, s.header.as_ref().expect("header"));
        assert!(header.starts_with("From: a@x.test\r\n") && header.ends_with("\"outer\"\r\n\r\n"));
        let text = slice(RAW, s.text.as_ref().expect("text"));
        assert!(text.starts_with("preamble\r\n") && text.ends_with("epilogue\r\n"));
        assert_eq!(s.mime, None);
    }

    #[test]
    fn missing_parts_and_foreign_raw_give_none() {
        let index = MessageIndex::parse(RAW.as_bytes());
        let cases: &[&[u32]] = &[
            &[0],
            &[4],
            &[1, 3],
            &[2, 1],
            &[1, 1, 1],
            &[3, 2],
            &[3, 1, 1],
        ];
        for path in cases {
            assert_eq!(index.section(RAW.as_bytes(), path), None, "path {path:?}");
        }
        assert_eq!(index.section(b"another message", &[1]), None);
    }

    #[test]
    fn single_part_message_has_only_part_one() {
        let raw = "Subject: hi\r\n\r\nHello\r\n";
        let index = MessageIndex::parse(raw.as_bytes());
        let s = index.section(raw.as_bytes(), &[1]).expect("part 1");
        assert_eq!(slice(raw, &s.body), "Hello\r\n");
        assert_eq!(
            s.mime.as_ref().map(|r| slice(raw, r)),
            Some("Subject: hi\r\n\r\n")
        );
        assert_eq!(index.section(raw.as_bytes(), &[2]), None);
        assert_eq!(index.section(raw.as_bytes(), &[1, 1]), None);
    }

    #[test]
    fn single_part_inside_message_rfc822_is_part_one_of_it() {
        let raw = "Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nInner body\r\n";
        let index = MessageIndex::parse(raw.as_bytes());
        let one = index.section(raw.as_bytes(), &[1]).expect("part 1");
        assert_eq!(
            slice(raw, &one.body),
            "Subject: inner\r\n\r\nInner body\r\n"
        );
        assert_eq!(
            one.header.as_ref().map(|r| slice(raw, r)),
            Some("Subject: inner\r\n\r\n")
        );
        assert_eq!(
            one.text.as_ref().map(|r| slice(raw, r)),
            Some("Inner body\r\n")
        );
        let inner = index.section(raw.as_bytes(), &[1, 1]).expect("part 1.1");
        assert_eq!(slice(raw, &inner.body), "Inner body\r\n");
        assert_eq!(index.section(raw.as_bytes(), &[1, 2]), None);
    }
}
